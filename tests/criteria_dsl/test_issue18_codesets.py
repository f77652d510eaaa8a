"""Issue 18: code sets that read as written, terminology that says what it does not know,
and the grammar fixes (mixed-unit windows, bracketed UCUM units)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_dsl import ast as A
from criteria_dsl.check import check_text
from criteria_dsl.explain import explain
from criteria_dsl.format import format_text
from criteria_dsl.parser import parse
from terminology import loaders
from terminology.service import TerminologyService, default_service
from terminology.store import Store

HEAD = 'study "S"\nindex date 2024-01-01\n'


def _check(body: str, service=None):
    result = check_text(HEAD + body, filename="s.p4dp", service=service or default_service())
    assert result.ok, result.render()
    return result


def _codes(result, name: str) -> dict[str, tuple[str, ...]]:
    return result.study.codeset(name).resolved.by_system()


def _expr(text: str) -> A.CodeExpr:
    (line,) = [s for s in parse(HEAD + f"codes c = {text}\n").statements if hasattr(s, "expr")]
    return line.expr


# ---- 1. 'except' ends at another system ---------------------------------------------------
def test_issue18_except_ends_at_another_system() -> None:
    body = (
        "codes lung = icd10 J43 and descendants, J44 and descendants except J43.1, J44.9, "
        "icpc2 R96\ninclusion\n  a: has diagnosis lung\n"
    )
    codes = _codes(_check(body), "lung")
    assert codes["icpc2"] == ("R96",)  # added, not removed
    assert "J43.1" not in codes["icd10"] and "J44.9" not in codes["icd10"]
    assert {"J43", "J43.0", "J44", "J44.0"} <= set(codes["icd10"])


def test_issue18_except_scope_in_the_ast_and_format_round_trip() -> None:
    expr = _expr("icd10 J44 and descendants except J44.9, icpc2 R95 except R95")
    assert [(i.system, i.code) for i in expr.items] == [("icd10", "J44"), ("icpc2", "R95")]
    # each 'except' list keeps the system in force where it was written, made explicit
    assert [(i.system, i.code) for i in expr.excludes] == [("icd10", "J44.9"), ("icpc2", "R95")]
    text = HEAD + "codes c = icd10 J44 and descendants except J44.9, icpc2 R95 except R95\n"
    once = format_text(text)
    assert "c = icd10 J44 and descendants, icpc2 R95 except icd10 J44.9 except icpc2 R95" in once
    single = format_text(HEAD + "codes c = icd10 J44 and descendants except J44.9, J44.8\n")
    assert "codes c = icd10 J44 and descendants except J44.9, J44.8" in single
    assert parse(once) == parse(text)
    assert format_text(once) == once


def test_issue18_except_removes_the_other_system_when_named_again_explicitly() -> None:
    expr = _expr("icd10 J44 and descendants except icd10 J44.9, J44.8")
    assert [i.code for i in expr.excludes] == ["J44.9", "J44.8"]
    assert [i.code for i in expr.items] == ["J44"]


def test_issue18_explain_shows_what_except_removed() -> None:
    result = _check(
        "codes t2 = icd10 E11 and descendants except E11.4\ninclusion\n  a: has diagnosis t2\n"
    )
    removed = result.study.codeset("t2").resolved.removed
    assert [(rc.code, rc.provenance) for rc in removed] == [
        ("E11.4", "except E11.4 and descendants")
    ]
    text = explain(result.study, service=default_service())
    assert "removed by 'except' (1 code):" in text
    assert "- ICD-10 2019 E11.4 Type 2 diabetes mellitus with neurological complications" in text


# ---- 2. 'except X' removes X and its descendants unless 'only' ---------------------------
def test_issue18_except_removes_descendants_unless_only() -> None:
    body = (
        "codes copd = icd10 J43 and descendants, J44 and descendants except J43\n"
        "codes copd2 = icd10 J43 and descendants, J44 and descendants except J43 only\n"
        "inclusion\n  a: has diagnosis copd or has diagnosis copd2\n"
    )
    result = _check(body)
    assert not any(c.startswith("J43") for c in _codes(result, "copd")["icd10"])
    kept = _codes(result, "copd2")["icd10"]
    assert "J43" not in kept and {"J43.0", "J43.9"} <= set(kept)
    assert len(result.study.codeset("copd").resolved.removed) == 6  # J43, J43.0-J43.2, .8, .9


def test_issue18_except_on_atc_removes_the_group() -> None:
    body = "codes ad = atc A10B* except A10BH\ninclusion\n  a: has prescription ad\n"
    codes = _codes(_check(body), "ad")["atc"]
    assert "A10BA02" in codes and not any(c.startswith("A10BH") for c in codes)


def test_issue18_only_is_formatted_back() -> None:
    text = HEAD + "codes c = icd10 E11 only\ninclusion\n  a: has diagnosis icd10 Z34 only\n"
    assert "icd10 E11 only" in format_text(text) and "icd10 Z34 only" in format_text(text)


# ---- 3. a code with children used alone ----------------------------------------------------
def test_issue18_code_alone_warns_with_what_to_write() -> None:
    result = _check("inclusion\n  a: has diagnosis icd10 Z34\n  b: has diagnosis icd10 E11\n")
    alone = [d for d in result.warnings if d.code == "W511 code-alone"]
    assert len(alone) == 2
    assert "icd10 Z34 selects that code alone, not the 3 codes below it (Z34.0-Z34.9)" in (
        alone[0].message
    )
    assert alone[0].suggestion.startswith("write 'icd10 Z34 and descendants'")
    assert alone[1].line == 5


def test_issue18_code_alone_silent_with_descendants_only_or_a_leaf() -> None:
    body = (
        "codes t2 = icd10 E11 and descendants\ncodes z = icd10 Z34 only\n"
        "codes leaf = icd10 E11.9, icpc2 T90\n"
        "inclusion\n  a: has diagnosis t2 or has diagnosis z or has diagnosis leaf\n"
    )
    assert not [d for d in _check(body).warnings if d.code == "W511 code-alone"]


def test_issue18_count_hint_for_a_lone_code_matching_no_row() -> None:
    import datetime as dt

    import polars as pl

    from matcher.engine.result import Counts, Result

    study = _check("inclusion\n  a: has diagnosis icd10 E11\n").study
    name = study.codesets[0].name
    counts = Counts(0, 0, 0, 0)  # only the warnings are read
    result = Result(study, "h", dt.date(2024, 1, 1), "snap", pl.DataFrame(), counts, {name: 0})
    (warning,) = result.code_set_warnings()
    assert "it lists icd10 E11 alone" in warning and "'and descendants'" in warning


# ---- 4. W507: complication excluded (note) vs contradiction (warning) ----------------------
def test_issue18_w507_complication_is_a_note_saying_the_exclusion_wins() -> None:
    body = (
        "codes t2 = icd10 E11 and descendants\ncodes neuro = icd10 E11.4\n"
        "inclusion\n  a: has diagnosis t2\nexclusion\n  b: has diagnosis neuro\n"
    )
    result = _check(body)
    (note,) = [d for d in result.diagnostics if d.code == "W507 overlap"]
    assert note.severity == "note"
    assert "the exclusion wins" in note.message and "E11.4" in note.message
    assert not result.warnings


def test_issue18_w507_same_codes_both_ways_is_a_warning() -> None:
    body = (
        "codes t2 = icd10 E11 and descendants\ncodes t2b = icd10 E11 and descendants\n"
        "inclusion\n  a: has diagnosis t2\nexclusion\n  b: has diagnosis t2b\n"
    )
    (warning,) = [d for d in _check(body).diagnostics if d.code == "W507 overlap"]
    assert warning.severity == "warning"
    assert "select the same diagnoses codes" in warning.message


# ---- 5. valid codes absent from a partial shipped table ------------------------------------
@pytest.mark.parametrize(
    ("written", "shown"),
    [("atc A10BH08", "ATC A10BH08"), ("loinc 2947-0", "LOINC 2947-0")],
)
def test_issue18_valid_code_not_in_shipped_table_is_kept_with_a_warning(
    written: str, shown: str, tmp_path: Path
) -> None:
    service = TerminologyService(store=Store(tmp_path / "store"))
    kind = "prescription" if written.startswith("atc") else "lab"
    result = _check(f"codes x = {written}\ninclusion\n  a: has {kind} x\n", service)
    (warning,) = [d for d in result.warnings if d.code == "W510 partial-table"]
    assert f"{shown} is a valid code not in the shipped table" in warning.message
    assert "load the full table with 'p4dp terms load" in warning.message
    assert "did you mean" not in warning.message
    system, code = written.split()
    assert result.study.codeset("x").resolved.by_system() == {system: (code,)}


def test_issue18_no_did_you_mean_to_another_drug(tmp_path: Path) -> None:
    service = TerminologyService(store=Store(tmp_path / "store"))
    message = service.unknown_code_message("atc", "A10BH08", "p4dp-defaults")
    assert "valid code not in the shipped table" in message and "A10BH01" not in message
    # a malformed code still gets its format error
    bad = check_text(HEAD + "codes x = atc A10BH8X\n", filename="s.p4dp", service=service)
    assert not bad.ok


def test_issue18_loaded_full_table_still_refuses_an_unknown_code(tmp_path: Path) -> None:
    table = tmp_path / "atc.csv"
    table.write_text(
        "atc_code,atc_name,ddd,uom,adm_r,note\nA,ALIMENTARY,NA,NA,NA,NA\n"
        "A10,DIABETES,NA,NA,NA,NA\nA10B,BLOOD GLUCOSE LOWERING,NA,NA,NA,NA\n"
        "A10BH,DPP-4,NA,NA,NA,NA\nA10BH01,sitagliptin,0.1,g,O,NA\n",
        encoding="utf-8",
    )
    store = Store(tmp_path / "store")
    loaders.install("atc", table, "2026", store=store)
    text = HEAD + "codes x = atc A10BH08\ninclusion\n  a: has prescription x\n"
    result = check_text(text, filename="s.p4dp", service=TerminologyService(store=store))
    assert [d.code for d in result.errors] == ["E102 unknown-code"]
    assert "does not exist in ATC" in result.errors[0].message


# ---- 7. units from the LOINC property -------------------------------------------------------
def test_issue18_units_of_shipped_codes() -> None:
    ok = (
        "inclusion\n  a: has lab loinc 29463-7 with value < 110 [lb_av]\n"
        "  b: has lab loinc 8280-0 with value >= 88 cm\n"
        "  c: has lab loinc 6301-6 with value > 3 {INR}\n"
        "  d: has lab loinc 8664-5 with value >= 10 {pack-years}\n"
        "  f: has lab loinc 6301-6 with value > 3 INR\n"
        "  e: has lab loinc 1742-6 with value > 40 U/L\n"
    )
    _check(ok)
    bad = check_text(
        HEAD + "inclusion\n  w: has lab loinc 8280-0 with value >= 88 mm[Hg]\n",
        filename="s.p4dp",
        service=default_service(),
    )
    assert [d.code for d in bad.errors] == ["E301 bad-unit"]
    assert "measured in cm or m or [in_i]" in bad.errors[0].message


def test_issue18_units_from_the_property_of_a_loaded_loinc_code(tmp_path: Path) -> None:
    table = tmp_path / "Loinc.csv"
    table.write_text(
        "LOINC_NUM,LONG_COMMON_NAME\n"
        "56115-9,Waist Circumference by NIH method\n"
        "2157-6,Creatine kinase [Enzymatic activity/volume] in Serum or Plasma\n"
        "2947-0,Sodium [Moles/volume] in Blood\n"
        "1751-7,Albumin [Mass/volume] in Serum or Plasma\n",
        encoding="utf-8",
    )
    store = Store(tmp_path / "store")
    loaders.install("loinc", table, store=store, version="2.80")
    service = TerminologyService(store=store)

    def errors(rule: str) -> list[str]:
        result = check_text(HEAD + f"inclusion\n  a: {rule}\n", filename="s.p4dp", service=service)
        return [d.code for d in result.errors]

    assert errors("has lab loinc 56115-9 with value >= 88 mm[Hg]") == ["E301 bad-unit"]
    assert errors("has lab loinc 56115-9 with value >= 88 cm") == []
    assert errors("has lab loinc 1751-7 with value < 35 g/L") == []
    assert errors("has lab loinc 1751-7 with value < 3.5 mg/dL") == []
    assert errors("has lab loinc 1751-7 with value < 35 mm[Hg]") == ["E301 bad-unit"]
    assert errors("has lab loinc 2157-6 with value > 200 U/L") == []
    assert errors("has lab loinc 2947-0 with value < 135 mmol/L") == []
    assert errors("has lab loinc 2947-0 with value < 135 kg") == ["E301 bad-unit"]


# ---- 8. grammar: mixed-unit windows and bracketed units -------------------------------------
def test_issue18_mixed_unit_window_parses_and_compiles() -> None:
    result = _check(
        "inclusion\n  a: has diagnosis icd10 E11 only between 30 days and 100 years before index\n"
    )
    window = result.study.rules[0].predicate.events.window
    assert (window.start.offset.amount, window.start.offset.unit.value) == (100, "year")
    assert (window.end.offset.amount, window.end.offset.unit.value) == (30, "day")
    window = "between 30 days and 100 years before index"
    text = HEAD + f"inclusion\n  a: has diagnosis icd10 E11 only {window}\n"
    assert "between 30 days and 100 years before index" in format_text(text)


def test_issue18_mixed_unit_window_reversed_is_an_error_with_its_position() -> None:
    result = check_text(
        HEAD
        + "inclusion\n  a: has diagnosis icd10 E11 only between 2 years and 30 days before index\n",
        filename="s.p4dp",
        service=default_service(),
    )
    (error,) = result.errors
    assert error.code == "E404 bad-window" and (error.line, error.column) == (4, 35)
    assert "2 year(s) is more than 30 day(s)" in error.message


def test_issue18_bracketed_ucum_unit_is_a_unit_not_an_unknown_clause() -> None:
    result = _check(
        "inclusion\n  a: has lab loinc 29463-7 with value < 110 [lb_av] [unknown as eligible]\n"
        "  b: has lab loinc 8302-2 with value > 60 [in_i]\n"
    )
    first = result.study.rules[0]
    assert first.predicate.events.value.right.unit == "[lb_av]"
    assert first.unknown_as is not None
    plain = _check("inclusion\n  a: latest lab loinc 4548-4 ever > 7 % [unknown as eligible]\n")
    assert plain.study.rules[0].unknown_as is not None


# ---- the 'except' scope survives formatting (generated code sets) --------------------------
_CODES = {"icd10": ("J43", "J44", "J44.9", "E11", "E11.4"), "icpc2": ("R95", "R96", "T90")}


@st.composite
def _code_lists(draw: st.DrawFn) -> str:
    """A code set text with one to three lists, each after the first opened by 'except'; an
    item names its system or carries the previous one."""
    parts: list[str] = []
    system = draw(st.sampled_from(sorted(_CODES)))
    first = True
    for group in range(draw(st.integers(1, 3))):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            named = first or draw(st.booleans())
            if named:
                system = draw(st.sampled_from(sorted(_CODES)))
            code = draw(st.sampled_from(_CODES[system]))
            suffix = draw(st.sampled_from(["", " and descendants", " only"]))
            items.append((f"{system} " if named else "") + code + suffix)
            first = False
        parts.append(("" if group == 0 else " except ") + ", ".join(items))
    return "".join(parts)


@settings(max_examples=60, deadline=None)
@given(_code_lists())
def test_issue18_except_scope_survives_format(drawn: str) -> None:
    text = HEAD + f"codes c = {drawn}\n"
    formatted = format_text(text)
    assert parse(formatted) == parse(text)
    assert format_text(formatted) == formatted
    service = default_service()
    before = check_text(text + "inclusion\n  a: has diagnosis c\n", service=service)
    after = check_text(formatted + "inclusion\n  a: has diagnosis c\n", service=service)
    assert before.ok == after.ok
    if before.ok:
        assert before.study.codeset("c").resolved == after.study.codeset("c").resolved
