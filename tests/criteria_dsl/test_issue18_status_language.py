"""Issue 18 (status): the smoking, pregnancy and breast-feeding conditions in the language:
parsing of every spelling, IR, JSON round trip and hash, explain, fmt, lint, errors."""

from __future__ import annotations

import pytest

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json

HEAD = 'study "S"\nindex date 2024-06-15\ninclusion\n'


def predicate_of(condition: str) -> ir.Predicate:
    return compile_text(HEAD + f"  r: {condition}\n").inclusion[0].predicate


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("smoking status at index is current", ir.SmokingStatusIs(("current",))),
        ("smoking status at index is never", ir.SmokingStatusIs(("never",))),
        (
            "smoking status at index is (former, current)",
            ir.SmokingStatusIs(("current", "former")),
        ),
        ("smoking  status\tat index  is former", ir.SmokingStatusIs(("former",))),
        ("pack-years at index >= 10", ir.SmokingQuantity("pack_years", ">=", ir.Quantity(10))),
        ("pack years at index > 20", ir.SmokingQuantity("pack_years", ">", ir.Quantity(20))),
        (
            "cigarettes per day at index >= 5",
            ir.SmokingQuantity("cigarettes_per_day", ">=", ir.Quantity(5)),
        ),
        ("pregnant at index", ir.StateAtIndex("pregnant")),
        ("breast-feeding at index", ir.StateAtIndex("breastfeeding")),
        ("breastfeeding at index", ir.StateAtIndex("breastfeeding")),
    ],
)
def test_issue18_status_conditions_compile_to_their_ir(written, expected):
    assert predicate_of(written) == expected


def test_issue18_status_conditions_with_not_params_and_unknown_as():
    study = compile_text(
        'study "S"\nparam py = 10\ninclusion\n'
        "  a: not pregnant at index and not breastfeeding at index [unknown as eligible]\n"
        "  b: pack-years at index >= $py\n",
        params={"py": 15},
    )
    a, b = study.inclusion
    assert a.predicate == ir.And(
        (ir.Not(ir.StateAtIndex("pregnant")), ir.Not(ir.StateAtIndex("breastfeeding")))
    )
    assert a.unknown_as is True
    assert b.predicate.right.value == 15.0


def test_issue18_status_json_round_trip_and_hash_follows_meaning():
    one = compile_text(HEAD + "  r: smoking status at index is (current, former)\n")
    assert from_json(to_json(one)) == one
    same = compile_text(HEAD + "  r:   smoking status at index is (former,current)\n")
    other = compile_text(HEAD + "  r: smoking status at index is current\n")
    assert study_hash(one) == study_hash(same) != study_hash(other)
    quantity = compile_text(HEAD + "  r: pack-years at index >= 10\n")
    assert study_hash(quantity) != study_hash(
        compile_text(HEAD + "  r: cigarettes per day at index >= 10\n")
    )


def test_issue18_fmt_writes_the_canonical_spelling_and_is_stable():
    source = HEAD + (
        "  a: smoking status at index is (current,former)\n"
        "  b: pack years at index >=10\n"
        "  c: breastfeeding at index or pregnant at index\n"
    )
    formatted = format_text(source)
    assert "smoking status at index is (current, former)" in formatted
    assert "pack-years at index >= 10" in formatted
    assert "breast-feeding at index or pregnant at index" in formatted
    assert format_text(formatted) == formatted
    assert compile_text(formatted) == compile_text(source)


def test_issue18_explain_states_the_rules():
    text = explain(
        compile_text(
            HEAD + "  a: smoking status at index is never\n  b: pregnant at index\n"
            "  c: cigarettes per day at index < 5\n"
        )
    )
    assert "smoking status at the index date is never" in text
    assert "42 weeks" in text and "false for men" in text
    assert "cigarettes per day at the index date is less than 5" in text
    assert text.count("possibly eligible (to verify)") >= 3


def test_issue18_unknown_smoking_status_is_a_clear_error():
    result = check_text(HEAD + "  r: smoking status at index is smoker\n")
    assert not result.ok
    (error,) = result.errors
    assert error.code.startswith("E420")
    assert "'smoker' is not a smoking status" in error.message
    assert (error.line, error.column) == (4, 6)


def test_issue18_lint_and_base_population_accept_status_rules():
    # a study whose only inclusion is a status fact selects patients with a record: no E401
    result = check_text(HEAD + "  r: smoking status at index is current\n")
    assert result.ok, result.render()
    negated = check_text(HEAD + "  r: not pregnant at index\n")
    assert any(e.code.startswith("E401") for e in negated.errors)
