"""Issue 11, items 5 to 7: criteria files that used to crash, stall or fool the front end.

Each test is named after the issue item it covers. A refused file must be refused by
``check_text`` (hence ``p4dp check``) with a position and a stable code, never by an
internal error, and never pass ``check`` to fail later in the engine.
"""

from __future__ import annotations

import time

import pytest

from criteria_dsl import CriteriaError, check_text, compile_text, ir, parse
from criteria_dsl.errors import Diagnostic
from criteria_dsl.ir_json import from_json, study_hash, to_json
from criteria_dsl.limits import MAX_CONDITIONS, MAX_FILE_BYTES, MAX_NESTING
from criteria_dsl.parser import normalise_source

HEAD = 'study "S"\nindex date 2026-01-01\n'


def errors(text: str, service, **kw) -> list[Diagnostic]:
    result = check_text(text, filename="s.p4dp", service=service, **kw)
    assert not result.ok
    return result.errors


def chain(levels: int, op: str = "{0} and {0}") -> str:
    lines = [HEAD + "define d0 = age at index > 18"]
    for i in range(1, levels + 1):
        lines.append(f"define d{i} = " + op.format(f"d{i - 1}"))
    return "\n".join(lines) + f"\ninclusion\n  r: d{levels}\n"


# ---- item 5: exponential definitions ------------------------------------------------------


@pytest.mark.parametrize("levels", [20, 40])
def test_issue11_item5_chained_definitions_are_refused_at_once(levels: int, service) -> None:
    start = time.perf_counter()
    found = errors(chain(levels), service)
    assert time.perf_counter() - start < 5  # was 85 s at 20 levels, endless at 40
    assert [d.code for d in found] == ["E408 too-large"]
    # at the first definition that is too large: d10 is 2,047 conditions written out
    assert found[0].line == 13 and "definition 'd10'" in found[0].message
    assert f"the limit is {MAX_CONDITIONS:,}" in found[0].message


def test_issue11_item5_a_shared_definition_is_one_ir_node(service) -> None:
    study = compile_text(chain(8), service=service)
    predicate = study.inclusion[0].predicate
    assert isinstance(predicate, ir.And) and predicate.items[0] is predicate.items[1]
    # walking the graph visits each shared node once: 8 levels, not 2^8 leaves
    ands = [n for n in ir.walk(predicate) if isinstance(n, ir.And)]
    assert len(ands) == 8
    # JSON and the hash still see the written-out tree, and round-trip
    assert from_json(to_json(study)) == study
    assert study_hash(from_json(to_json(study))) == study_hash(study)


def test_issue11_item5_a_rule_too_large_is_refused_at_the_rule(service) -> None:
    text = chain(9, "{0} or {0}").replace("  r: d9\n", "  r: d9 and not d9\n")
    found = errors(text, service)
    assert [d.code for d in found] == ["E408 too-large"]
    assert found[0].line == 14 and "rule 'r'" in found[0].message


def test_issue11_item5_a_study_too_large_is_refused_at_the_rule_that_overflows(service) -> None:
    rules = "".join(f"  r{i}: d9\n" for i in range(30))  # each 1,023 conditions written out
    text = chain(9).replace("  r: d9\n", rules)
    found = errors(text, service)
    assert [d.code for d in found] == ["E408 too-large"]
    assert found[0].line == 13 + 20 and "the limit for a study is 20,000" in found[0].message
    assert check_text(
        chain(9).replace("  r: d9\n", rules[: rules.index("  r19")]), service=service
    ).ok


def test_issue11_item5_deep_definition_chains_are_refused(service) -> None:
    # each definition is small, but written out they nest 150 levels deep
    found = errors(chain(150, "not {0}"), service)
    assert [d.code for d in found] == ["E006 too-deep"]
    # definitions compiled one by one (each used by a rule first) are measured too
    lines = [HEAD + "define d0 = age at index > 18"]
    lines += [f"define d{i} = not d{i - 1}" for i in range(1, 151)]
    lines += ["inclusion"] + [f"  r{i}: d{i}" for i in range(151)]
    found = errors("\n".join(lines) + "\n", service)
    assert {d.code for d in found} == {"E006 too-deep"}
    assert found[0].message.startswith("definition 'd100' nests conditions 101 levels deep")


# ---- item 6: internal errors instead of positions -----------------------------------------


def test_issue11_item6_a_thousand_nested_nots_are_refused_with_a_position(service) -> None:
    text = HEAD + "inclusion\n  r: " + "not " * 1000 + "age at index > 18\n"
    found = errors(text, service)
    assert [d.code for d in found] == ["E006 too-deep"]
    assert found[0].line == 4 and found[0].column == 6 + 4 * (MAX_NESTING - 2)
    with pytest.raises(CriteriaError):
        parse(text)


def test_issue11_item6_deep_nesting_spares_the_other_rules(service) -> None:
    text = HEAD + "inclusion\n  a: " + "not " * 200 + "sex is male\n  b: has diagnosis nope\n"
    assert [d.code for d in errors(text, service)] == ["E006 too-deep", "E101 unknown-codeset"]


def test_issue11_item6_hundred_nested_nots_still_compile(service) -> None:
    text = HEAD + "inclusion\n  r: age at index > 18 and " + "not " * 90 + "sex is male\n"
    result = check_text(text, service=service)
    assert result.ok, result.render()


@pytest.mark.parametrize(
    ("window", "code"),
    [
        ("within 10000 years before index", "E407 out-of-range"),
        ("within 99999999999 years before index", "E407 out-of-range"),
        ("within 2401 months before index", "E407 out-of-range"),
        ("between 1 and 73001 days before index", "E407 out-of-range"),
        ("within 1 year before 0001-01-01", "E407 out-of-range"),
        ("between 2020-01-01 and 9999-12-31", "E407 out-of-range"),
    ],
)
def test_issue11_item6_windows_beyond_the_calendar_are_refused(
    window: str, code: str, service
) -> None:
    text = HEAD + f"inclusion\n  r: has diagnosis icd10 E11 {window}\n"
    found = errors(text, service)
    assert [d.code for d in found] == [code]
    assert found[0].line == 4 and found[0].column > 1


def test_issue11_item6_the_longest_windows_compile(service) -> None:
    for window in ("within 200 years before index", "within 2400 months after index"):
        text = HEAD + f"inclusion\n  r: has diagnosis icd10 E11 {window}\n"
        assert check_text(text, service=service).ok


@pytest.mark.parametrize(
    ("index", "direction"), [("0001-01-01", "before"), ("9999-12-31", "after")]
)
def test_issue11_item6_index_dates_at_the_calendar_ends_are_refused(
    index: str, direction: str, service
) -> None:
    text = (
        f'study "S"\nindex date {index}\ninclusion\n'
        f"  r: has diagnosis icd10 E11 within 1 year {direction} index\n"
    )
    found = errors(text, service)
    assert [(d.code, d.line, d.column) for d in found] == [("E407 out-of-range", 2, 12)]


def test_issue11_item6_a_huge_parameter_used_as_months_is_refused(service) -> None:
    text = HEAD + "param m = 6\ninclusion\n  r: has diagnosis icd10 E11 within $m months\n"
    assert check_text(text, service=service).ok is False  # no window direction: syntax
    text = text.replace("$m months", "$m months before index")
    assert check_text(text, service=service).ok
    found = errors(text, service, params={"m": "99999999999"})
    assert [(d.code, d.line) for d in found] == [("E407 out-of-range", 5)]
    assert "parameter '$m'" in found[0].message
    found = errors(text, service, params={"m": "9" * 5000})
    assert [(d.code, d.line) for d in found] == [("E407 out-of-range", 3)]
    assert "the value given for this run is too large" in found[0].message
    huge_default = text.replace("param m = 6", "param m = 1" + "0" * 40)
    found = errors(huge_default, service)
    assert [(d.code, d.line) for d in found] == [("E407 out-of-range", 3)]
    assert "its default is too large" in found[0].message


@pytest.mark.parametrize(
    "condition",
    [
        "age at index > 1" + "0" * 400,
        "age at index > 1" + "0" * 5000,
        "at least 99999999999999999999 prescriptions of atc A10BA02",
        "latest lab loinc 4548-4 > 1" + "0" * 400 + ".5 %",
    ],
)
def test_issue11_item6_huge_numbers_are_refused(condition: str, service) -> None:
    found = errors(HEAD + f"inclusion\n  r: {condition}\n", service)
    assert [d.code for d in found] == ["E407 out-of-range"]
    assert found[0].line == 4


@pytest.mark.parametrize("term", ['""', '"   "'])
def test_issue11_item6_an_empty_term_is_refused(term: str, service) -> None:
    found = errors(HEAD + f"codes t = {term}\ninclusion\n  r: has diagnosis t\n", service)
    assert [(d.code, d.line, d.column) for d in found] == [("E107 term-not-found", 3, 11)]
    found = errors(HEAD + f"inclusion\n  r: has diagnosis {term}\n", service)
    assert [(d.code, d.line) for d in found] == [("E107 term-not-found", 4)]


# ---- item 7: encodings and bytes ----------------------------------------------------------


def test_issue11_item7_a_byte_order_mark_is_accepted(service) -> None:
    text = "\ufeff" + HEAD + "inclusion\n  r: age at index > 18\n"
    result = check_text(text, service=service)
    assert result.ok, result.render()
    assert result.study == compile_text(text[1:], service=service)


def test_issue11_item7_greek_mu_and_micro_sign_are_micro(service) -> None:
    for mu in ("\u03bc", "\u00b5"):
        text = HEAD + f"inclusion\n  r: latest lab loinc 2160-0 > 150 {mu}mol/L\n"
        result = check_text(text, service=service)
        assert result.ok, result.render()
        assert result.study.inclusion[0].predicate.right.unit == f"{mu}mol/L"


def test_issue11_item7_unicode_letters_in_names(service) -> None:
    text = (
        HEAD
        + "param âge_min = 40\ncodes diabète = icd10 E11\ndefine âgé = age at index >= $âge_min\n"
        + "inclusion\n  âge: âgé\n  diabète_2: has diagnosis diabète\n"
    )
    result = check_text(text, service=service)
    assert result.ok, result.render()
    assert [r.name for r in result.study.inclusion] == ["âge", "diabète_2"]
    # the same name typed with a combining accent is the same name
    decomposed = text.replace("â", "a\u0302")
    assert compile_text(decomposed, service=service) == result.study


def test_issue11_item7_a_name_must_be_an_identifier(service) -> None:
    found = errors(HEAD + "inclusion\n  a²: age at index > 18\n", service)
    assert [(d.code, d.line, d.column) for d in found] == [("E001 syntax", 4, 3)]
    assert "'a²' is not a name" in found[0].message


@pytest.mark.parametrize(
    ("char", "name"),
    [
        ("\x00", "NUL"),
        ("\u202e", "RIGHT-TO-LEFT OVERRIDE"),
        ("\u202a", "LEFT-TO-RIGHT EMBEDDING"),
        ("\u2066", "LEFT-TO-RIGHT ISOLATE"),
        ("\u2069", "POP DIRECTIONAL ISOLATE"),
        ("\x1b", "U+001B"),
    ],
)
def test_issue11_item7_nul_and_bidi_controls_are_refused_at_their_position(
    char: str, name: str, service
) -> None:
    text = HEAD + f"inclusion\n  r: age at index > 18  # a{char}b\n"
    result = check_text(text, service=service)
    assert not result.ok
    assert [(d.code, d.line, d.column) for d in result.errors] == [("E004 bad-character", 4, 28)]
    assert name in result.errors[0].message
    assert char not in result.render()  # the excerpt does not echo it


def test_issue11_item7_bad_characters_inside_a_rule_are_refused(service) -> None:
    text = HEAD + "inclusion\n  r: age at index > 18\x00\n  s: sex is \u202emale\n"
    found = errors(text, service)
    assert [(d.code, d.line) for d in found] == [
        ("E004 bad-character", 4),
        ("E004 bad-character", 5),
    ]


def test_issue11_item7_an_error_on_a_huge_line_echoes_a_short_excerpt(service) -> None:
    text = HEAD + "inclusion\n  r: age at index > 18 " + "x" * 5_000_000 + "\n"
    result = check_text(text, service=service)
    assert not result.ok
    rendered = result.render()
    assert len(rendered) < 1_000
    assert "^" in rendered.splitlines()[-1]


def test_issue11_item7_a_huge_word_in_a_message_is_cut(service) -> None:
    text = HEAD + "inclusion\n  r: has diagnosis " + "z" * 100_000 + "\n"
    result = check_text(text, service=service)
    assert not result.ok and len(result.render()) < 1_000


def test_issue11_item7_a_file_that_is_not_criteria_echoes_one_line(service) -> None:
    csv = "".join(f"patient_{i},secret-{i},1960,F\n" for i in range(500))
    result = check_text(csv, filename="patients.csv", service=service)
    assert not result.ok and len(result.diagnostics) == 1
    assert result.render().count("secret-") == 1


def test_issue11_item7_normalised_source_keeps_line_numbers() -> None:
    text = '\ufeffstudy "S"\r\ninclusion\r\n  a: age at index > 18\r\n'
    assert normalise_source(text).split("\n")[2] == "  a: age at index > 18"
    assert MAX_FILE_BYTES == 1_000_000
