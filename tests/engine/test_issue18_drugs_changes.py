"""Issue 18 (drugs): stable dose and no change, spec tests: boundaries of the periods, new
codes, dose changes, unit conversion, unknown doses, missing dose columns. Every case also
runs through the reference evaluator (``run`` asserts both agree)."""

from __future__ import annotations

import datetime as dt

from engine_helpers import INDEX, D, codeset, frames, one_rule, patient, rule

from criteria_dsl import ir

STATIN = codeset("statin", ("atc", "C10AA05"), ("atc", "C10AA07"))
MONTH, DAY = ir.TimeUnit.MONTH, ir.TimeUnit.DAY
START = D(2024, 3, 15)  # INDEX (2024-06-15) - 3 months


def rx(pid, day, daily=40.0, unit="mg", code="C10AA05"):
    return {
        "patient_id": pid,
        "date": day,
        "system": "atc",
        "code": code,
        "daily_dose": daily,
        "dose_unit": unit,
    }


def stable() -> ir.Predicate:
    return ir.StableDose(ir.CodeSetRef("statin"), ir.Duration(3, MONTH))


def no_change(days: int = 30) -> ir.Predicate:
    return ir.NoChange(ir.CodeSetRef("statin"), ir.Duration(days, DAY))


def test_issue18_stable_dose_rules():
    data = frames(
        patients=[patient(p) for p in ("same", "on_start", "after_start", "changed", "none")]
        + [patient(p) for p in ("only_before", "grams", "new_code", "unknown", "old_change")],
        prescriptions=[
            rx("same", D(2024, 1, 10)),
            rx("same", D(2024, 4, 10)),
            rx("same", D(2024, 6, 10)),
            rx("on_start", START),  # on the start counts as before the window
            rx("on_start", D(2024, 5, 1)),
            rx("after_start", START + dt.timedelta(days=1)),  # none on or before the start
            rx("changed", D(2024, 2, 1)),
            rx("changed", D(2024, 5, 1), daily=80.0),
            rx("only_before", D(2023, 12, 1)),  # nothing in the window: still on it
            rx("grams", D(2024, 2, 1), daily=0.04, unit="g"),
            rx("grams", D(2024, 5, 1), daily=40.0),  # 0.04 g = 40 mg: no change
            rx("new_code", D(2024, 2, 1)),
            rx("new_code", D(2024, 5, 1), daily=10.0, code="C10AA07"),  # switched drug
            rx("unknown", D(2024, 2, 1)),
            rx("unknown", D(2024, 5, 1), daily=None),
            rx("old_change", D(2023, 6, 1), daily=10.0),  # before the latest baseline date
            rx("old_change", D(2024, 2, 1)),
            rx("old_change", D(2024, 5, 1)),
        ],
    )
    got = rule(one_rule(stable(), STATIN), data)
    assert got == {
        "same": True,
        "on_start": True,
        "after_start": False,
        "changed": False,
        "none": False,
        "only_before": True,
        "grams": True,
        "new_code": False,
        "unknown": None,
        "old_change": True,
    }


def test_issue18_stable_dose_known_change_wins_over_unknown_and_other_units():
    data = frames(
        patients=[patient(p) for p in ("both", "tablets", "tablet_change", "base_unknown")],
        prescriptions=[
            rx("both", D(2024, 2, 1)),
            rx("both", D(2024, 4, 1), daily=None),
            rx("both", D(2024, 5, 1), daily=20.0),  # a known change: false
            rx("tablets", D(2024, 2, 1), daily=1.0, unit="{tablet}"),
            rx("tablets", D(2024, 5, 1), daily=1.0, unit="{tablet}"),
            rx("tablet_change", D(2024, 2, 1), daily=1.0, unit="{tablet}"),
            rx("tablet_change", D(2024, 5, 1), daily=40.0, unit="mg"),  # not comparable: a change
            rx("base_unknown", D(2024, 2, 1), daily=40.0, unit=None),
            rx("base_unknown", D(2024, 5, 1)),
        ],
    )
    got = rule(one_rule(stable(), STATIN), data)
    assert got == {"both": False, "tablets": True, "tablet_change": False, "base_unknown": None}


def test_issue18_no_change_rules():
    window_start = INDEX - dt.timedelta(days=30)
    data = frames(
        patients=[patient(p) for p in ("none", "continued", "started", "restarted", "dose_up")]
        + [patient(p) for p in ("in_window_change", "unknown", "on_start", "long_ago")],
        prescriptions=[
            rx("continued", D(2024, 3, 1)),
            rx("continued", D(2024, 6, 1)),
            rx("started", D(2024, 6, 1)),  # nothing in the year before: a new drug
            rx("restarted", D(2023, 5, 1)),  # more than a year before the window: new again
            rx("restarted", D(2024, 6, 1)),
            rx("dose_up", D(2024, 3, 1)),
            rx("dose_up", D(2024, 6, 1), daily=80.0),
            rx("in_window_change", D(2024, 3, 1)),
            rx("in_window_change", D(2024, 5, 20)),
            rx("in_window_change", D(2024, 6, 10), daily=20.0),
            rx("unknown", D(2024, 3, 1)),
            rx("unknown", D(2024, 6, 1), daily=None),
            rx("on_start", window_start - dt.timedelta(days=1)),
            rx("on_start", window_start, daily=20.0),  # the window's first day: in it
            rx("long_ago", D(2020, 1, 1), daily=10.0),  # not in the window: no change
        ],
    )
    got = rule(one_rule(no_change(), STATIN), data)
    assert got == {
        "none": True,
        "continued": True,
        "started": False,
        "restarted": False,
        "dose_up": False,
        "in_window_change": False,
        "unknown": None,
        "on_start": False,
        "long_ago": True,
    }


def test_issue18_stable_dose_and_no_change_without_dose_columns():
    """Data without the dose columns: every needed dose is unknown (never a change)."""
    rows = [
        {"patient_id": "p", "date": D(2024, 2, 1), "system": "atc", "code": "C10AA05"},
        {"patient_id": "p", "date": D(2024, 6, 1), "system": "atc", "code": "C10AA05"},
        {"patient_id": "new", "date": D(2024, 6, 1), "system": "atc", "code": "C10AA05"},
    ]
    data = frames(patients=[patient("p"), patient("new"), patient("none")], prescriptions=rows)
    assert rule(one_rule(stable(), STATIN), data) == {"p": None, "new": False, "none": False}
    assert rule(one_rule(no_change(), STATIN), data) == {"p": None, "new": False, "none": True}
