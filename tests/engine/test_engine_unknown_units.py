"""Spec tests: a measured value whose unit cannot be converted makes a comparison unknown
(possibly eligible, to verify), never false; per construct, Kleene logic (issue 12, item 3).

Every case also runs through the reference evaluator (``run`` asserts both agree).
"""

from __future__ import annotations

import pytest
from engine_helpers import D, codeset, frames, obs, one_rule, patient, rule

from criteria_dsl import ir
from terminology import units

HBA1C = codeset("hba1c", ("loinc", "4548-4"))
POTASSIUM = codeset("potassium", ("loinc", "2823-3"))
BMI = codeset("bmi", ("loinc", "39156-5"))
UP_TO_INDEX = ir.Window.up_to_index()


def hba1c(function: str, op: str, number: float) -> ir.Study:
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), UP_TO_INDEX)
    aggregate = ir.ValueAggregate(events, function, "%")
    return one_rule(ir.Compare(aggregate, op, ir.Quantity(number, "%")), HBA1C)


def low_potassium(n: int, *, distinct_days: bool = False, op: str = ">=") -> ir.Study:
    condition = ir.ValueCondition("<", ir.Quantity(3.5, "mmol/L"))
    events = ir.EventSet("observations", ir.CodeSetRef("potassium"), UP_TO_INDEX, condition)
    return one_rule(ir.Compare(ir.Count(events, distinct_days), op, ir.Quantity(n)), POTASSIUM)


def k(pid, day, value, unit="mmol/L"):
    return obs(pid, day, value, unit, code="2823-3")


# -- latest / first ------------------------------------------------------------------------------


def test_latest_with_an_unconvertible_latest_value_is_unknown():
    data = frames(
        patients=[patient(p) for p in ("later", "same_day", "older", "only_bad", "no_value")],
        observations=[
            obs("later", D(2024, 1, 1), 8.0, "%"),
            obs("later", D(2024, 2, 1), 1.0, "{odd}"),
            obs("same_day", D(2024, 1, 1), 8.0, "%"),
            obs("same_day", D(2024, 1, 1), 1.0, "kg"),
            obs("older", D(2023, 1, 1), 1.0, "kg"),
            obs("older", D(2024, 1, 1), 8.0, "%"),
            obs("only_bad", D(2024, 1, 1), 9.0, "mg"),
            obs("no_value", D(2024, 2, 1), None, "kg"),  # no measurement: not a value
            obs("no_value", D(2024, 1, 1), 8.0, "%"),
        ],
    )
    assert rule(hba1c("latest", ">", 7.5), data) == {
        "later": None,
        "same_day": None,
        "older": True,
        "only_bad": None,
        "no_value": True,
    }


def test_first_with_an_unconvertible_first_value_is_unknown():
    data = frames(
        patients=[patient("earlier_bad"), patient("later_bad")],
        observations=[
            obs("earlier_bad", D(2023, 1, 1), 1.0, "kg"),
            obs("earlier_bad", D(2024, 1, 1), 8.0, "%"),
            obs("later_bad", D(2023, 1, 1), 8.0, "%"),
            obs("later_bad", D(2024, 1, 1), 1.0, "kg"),
        ],
    )
    assert rule(hba1c("first", ">", 7.5), data) == {"earlier_bad": None, "later_bad": True}


# -- min / max / mean ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("function", "op", "number", "expected"),
    [
        ("max", ">", 7.5, True),  # the maximum is at least 8: whatever the other value is
        ("max", "<", 7.5, False),  # at least 8: never below 7.5
        ("max", "<", 9.0, None),  # 8 < 9, but the unknown value may be larger
        ("max", ">", 9.0, None),
        ("max", "==", 7.0, False),
        ("max", "!=", 7.0, True),
        ("min", "<", 9.0, True),  # the minimum is at most 8
        ("min", ">", 9.0, False),
        ("min", ">", 7.5, None),
        ("min", "==", 9.0, False),
        ("mean", ">", 7.5, None),  # a mean could be anything
        ("mean", "<", 100.0, None),
    ],
)
def test_min_max_mean_with_an_unconvertible_value(function, op, number, expected):
    data = frames(
        patients=[patient("a")],
        observations=[obs("a", D(2024, 1, 1), 8.0, "%"), obs("a", D(2023, 1, 1), 3.0, "kg")],
    )
    assert rule(hba1c(function, op, number), data) == {"a": expected}


def test_aggregates_without_unconvertible_values_are_unchanged():
    data = frames(
        patients=[patient("a"), patient("none")],
        observations=[obs("a", D(2024, 1, 1), 8.0, "%"), obs("a", D(2023, 1, 1), 53.0, "mmol/mol")],
    )
    for function, expected in (("max", True), ("min", False), ("mean", True), ("latest", True)):
        assert rule(hba1c(function, ">", 7.2), data) == {"a": expected, "none": None}


def test_a_unitless_comparison_with_values_in_a_unit_is_unknown():
    events = ir.EventSet("observations", ir.CodeSetRef("bmi"), UP_TO_INDEX)
    st = one_rule(ir.Compare(ir.ValueAggregate(events, "latest", None), ">", ir.Quantity(30)), BMI)
    data = frames(
        patients=[patient("unitless"), patient("with_unit")],
        observations=[
            obs("unitless", D(2024, 1, 1), 31.0, None, code="39156-5"),
            obs("with_unit", D(2024, 1, 1), 31.0, "kg/m2", code="39156-5"),
        ],
    )
    assert rule(st, data) == {"unitless": True, "with_unit": None}


# -- counts and existence with a value condition -------------------------------------------------


def test_count_with_unconvertible_values_follows_kleene_logic():
    data = frames(
        patients=[patient(p) for p in ("enough", "could", "cannot", "clean_no")],
        observations=[
            *(k("enough", D(2024, m, 1), 3.0) for m in (1, 2, 3)),
            k("enough", D(2024, 4, 1), 3.0, "{odd}"),
            k("could", D(2024, 1, 1), 3.0),
            k("could", D(2024, 2, 1), 3.1, "{odd}"),
            k("could", D(2024, 3, 1), 3.2, "g"),
            k("cannot", D(2024, 1, 1), 3.0, "{odd}"),  # 0 known + 1 unknown < 3
            k("cannot", D(2024, 2, 1), 4.0),  # converts and fails the condition
            k("clean_no", D(2024, 1, 1), 3.0),
            k("clean_no", D(2024, 2, 1), 5.0),
        ],
    )
    assert rule(low_potassium(3), data) == {
        "enough": True,
        "could": None,
        "cannot": False,
        "clean_no": False,
    }
    # fewer than 2: true only where no unknown value could make a second one
    assert rule(low_potassium(2, op="<"), data) == {
        "enough": False,
        "could": None,
        "cannot": True,  # at most 0 known + 1 unknown
        "clean_no": True,
    }


def test_distinct_days_count_with_unconvertible_values():
    data = frames(
        patients=[patient("same_day"), patient("other_day")],
        observations=[
            k("same_day", D(2024, 1, 1), 3.0),
            k("same_day", D(2024, 1, 1), 3.0, "{odd}"),  # the same day: no second day possible
            k("other_day", D(2024, 1, 1), 3.0),
            k("other_day", D(2024, 1, 2), 3.0, "{odd}"),
        ],
    )
    assert rule(low_potassium(2, distinct_days=True), data) == {
        "same_day": False,
        "other_day": None,
    }


def test_exists_with_a_value_condition_is_unknown_for_unconvertible_values():
    condition = ir.ValueCondition(">", ir.Quantity(7.5, "%"))
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), UP_TO_INDEX, condition)
    st = one_rule(ir.Exists(events), HBA1C)
    data = frames(
        patients=[patient(p) for p in ("yes", "maybe", "no", "nothing")],
        observations=[
            obs("yes", D(2024, 1, 1), 8.0, "%"),
            obs("yes", D(2024, 1, 1), 8.0, "kg"),
            obs("maybe", D(2024, 1, 1), 8.0, "kg"),
            obs("no", D(2024, 1, 1), 6.0, "%"),
            obs("nothing", D(2024, 1, 1), None, "kg"),
        ],
    )
    assert rule(st, data) == {"yes": True, "maybe": None, "no": False, "nothing": False}
    # not(exists): unknown stays unknown
    negated = one_rule(ir.Not(ir.Exists(events)), HBA1C)
    assert rule(negated, data) == {"yes": False, "maybe": None, "no": True, "nothing": True}


def test_an_anchor_date_uses_only_rows_known_to_satisfy_the_condition():
    condition = ir.ValueCondition(">", ir.Quantity(7.5, "%"))
    high = ir.EventSet("observations", ir.CodeSetRef("hba1c"), UP_TO_INDEX, condition)
    after_high = ir.Window(ir.Bound(ir.EventDate(high, "first")), None)
    st = one_rule(ir.Exists(ir.EventSet("observations", ir.CodeSetRef("hba1c"), after_high)), HBA1C)
    data = frames(
        patients=[patient("sure"), patient("only_maybe")],
        observations=[
            obs("sure", D(2024, 1, 1), 8.0, "%"),
            obs("only_maybe", D(2024, 1, 1), 8.0, "kg"),
        ],
    )
    assert rule(st, data) == {"sure": True, "only_maybe": False}


# -- the issue's case ----------------------------------------------------------------------------


def test_issue12_item3_units_potassium_in_meq_is_never_false():
    """ "at least 3 potassium < 3.5 mmol/L" with potassium in meq/L: true where terminology
    converts meq/L for potassium (valence 1), unknown where it does not, never false."""
    data = frames(
        patients=[patient("a")],
        observations=[k("a", D(2024, m, 1), 3.1, "meq/L") for m in (1, 2, 3)],
    )
    converts = units.compatible("meq/L", "mmol/L", analyte="2823-3")
    assert rule(low_potassium(3), data) == {"a": True if converts else None}
