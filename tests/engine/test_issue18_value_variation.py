"""Issue 18 (language reach, value_change): ``variation of <observations> OP N %``, spec tests.

The variation is the largest gap between a usable value of the window and the latest one, in
per cent of the latest one; unknown with usable values on fewer than two dates, a latest value
that is not positive, or a value that cannot be used. Every case also runs through the
reference evaluator (``run`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import D, codeset, frames, obs, one_rule, patient, rule, window_before

from criteria_dsl import CriteriaError, compile_text, ir

WEIGHT = codeset("weight", ("loinc", "29463-7"))


def kg(pid, day, value, unit="kg"):
    return obs(pid, day, value, unit, code="29463-7")


def stable(op: str = "<=", pct: float = 5, months: int = 6) -> ir.Predicate:
    events = ir.EventSet(ir.Domain.OBSERVATION, ir.CodeSetRef("weight"), window_before(months))
    return ir.ValueVariation(events, "kg", op, ir.Quantity(pct, "%"))


def test_issue18_value_change_every_value_within_5_percent_of_the_latest():
    data = frames(
        patients=[patient(p) for p in ("flat", "edge", "lost", "gained", "old_gap", "pounds")],
        observations=[
            kg("flat", D(2024, 2, 1), 80.0),
            kg("flat", D(2024, 6, 1), 81.0),
            kg("edge", D(2024, 1, 1), 105.0),  # exactly 5 % above the latest
            kg("edge", D(2024, 3, 1), 95.0),  # exactly 5 % below
            kg("edge", D(2024, 6, 1), 100.0),
            kg("lost", D(2024, 2, 1), 90.0),  # 12.5 % above the latest 80
            kg("lost", D(2024, 6, 1), 80.0),
            kg("gained", D(2024, 2, 1), 70.0),
            kg("gained", D(2024, 6, 1), 80.0),
            kg("old_gap", D(2023, 1, 1), 120.0),  # before the window: does not count
            kg("old_gap", D(2024, 2, 1), 80.0),
            kg("old_gap", D(2024, 6, 1), 80.0),
            kg("pounds", D(2024, 2, 1), 176.0, "[lb_av]"),  # 79.8 kg
            kg("pounds", D(2024, 6, 1), 80.0),
        ],
    )
    assert rule(one_rule(stable(), WEIGHT), data) == {
        "flat": True,
        "edge": True,
        "lost": False,
        "gained": False,
        "old_gap": True,
        "pounds": True,
    }
    changed = rule(one_rule(stable(">", 5), WEIGHT), data)
    assert [p for p, v in changed.items() if v] == ["lost", "gained"]


def test_issue18_value_change_unknown_with_fewer_than_two_dates_or_unusable_values():
    data = frames(
        patients=[patient(p) for p in ("none", "one", "same_day", "odd_unit", "no_value")],
        observations=[
            kg("one", D(2024, 6, 1), 80.0),
            kg("same_day", D(2024, 6, 1), 80.0),
            kg("same_day", D(2024, 6, 1), 95.0),  # two values, one date
            kg("odd_unit", D(2024, 2, 1), 80.0),
            kg("odd_unit", D(2024, 4, 1), 12.0, "stone?"),  # cannot be converted
            kg("odd_unit", D(2024, 6, 1), 81.0),
            kg("no_value", D(2024, 2, 1), None),  # no value at all: not a measurement
            kg("no_value", D(2024, 3, 1), 80.0),
            kg("no_value", D(2024, 6, 1), 80.0),
        ],
    )
    got = rule(one_rule(stable(), WEIGHT), data)
    assert got == {
        "none": None,
        "one": None,
        "same_day": None,
        "odd_unit": None,
        "no_value": True,
    }


def test_issue18_value_change_latest_is_the_largest_value_of_the_latest_date():
    data = frames(
        patients=[patient("tie")],
        observations=[
            kg("tie", D(2024, 2, 1), 100.0),
            kg("tie", D(2024, 6, 1), 95.0),  # taken as latest, 100 would be 5.3 % above it
            kg("tie", D(2024, 6, 1), 97.0),  # the latest value: 100 is 3.1 % above, 95 2.1 % below
        ],
    )
    assert rule(one_rule(stable(), WEIGHT), data) == {"tie": True}


def test_issue18_value_change_parses_formats_and_refuses_other_units():
    head = 'study "S"\ncodes weight = loinc 29463-7\ncodes t2d = icd10 E11\ninclusion\n'
    study = compile_text(
        head + "  r: variation of observation weight within 6 months before index <= 5 %\n"
    )
    p = study.inclusion[0].predicate
    assert isinstance(p, ir.ValueVariation) and (p.unit, p.op) == ("kg", "<=")
    with pytest.raises(CriteriaError, match="a variation is compared in %"):
        compile_text(head + "  r: variation of observation weight ever <= 5 kg\n")
    with pytest.raises(CriteriaError, match="only labs and observations have values"):
        compile_text(head + "  r: variation of diagnosis t2d ever <= 5 %\n")
    with pytest.raises(ir.IRError, match="only observations"):
        events = ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("t2d"), ir.Window())
        ir.ValueVariation(events, "kg", "<=", ir.Quantity(5, "%"))
