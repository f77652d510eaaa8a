"""Issue 18 (drugs): persistence (``spanning at least``) and new treatments (``first <event>``),
spec tests per construct: boundaries, month ends, windows, unknowns. Every case also runs
through the reference evaluator (``run`` asserts both agree)."""

from __future__ import annotations

import datetime as dt

from engine_helpers import INDEX, D, codeset, frames, obs, one_rule, patient, rule, window_before

from criteria_dsl import ir

LBP = codeset("lbp", ("icd10", "M54"))
GLP1 = codeset("glp1", ("atc", "A10BJ01"), ("atc", "A10BJ02"))
HBA1C = codeset("hba1c", ("loinc", "4548-4"))
MONTH, DAY = ir.TimeUnit.MONTH, ir.TimeUnit.DAY


def diag(pid, day, code="M54"):
    return {"patient_id": pid, "date": day, "system": "icd10", "code": code}


def rx(pid, day, code="A10BJ02"):
    return {"patient_id": pid, "date": day, "system": "atc", "code": code}


def lbp_events(window: ir.Window | None = None) -> ir.EventSet:
    return ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("lbp"), window or ir.Window())


def spans(months: int, window: ir.Window | None = None, unit=MONTH) -> ir.Predicate:
    return ir.Spans(lbp_events(window), ir.Duration(months, unit))


# -- persistence ----------------------------------------------------------------------------


def test_issue18_persistence_boundary_is_inclusive_and_months_are_calendar_months():
    data = frames(
        patients=[patient(p) for p in ("exact", "short", "one", "none", "clip", "clip_short")],
        diagnoses=[
            diag("exact", D(2024, 1, 15)),
            diag("exact", D(2024, 4, 15)),  # first + 3 months exactly
            diag("short", D(2024, 1, 15)),
            diag("short", D(2024, 4, 14)),
            diag("one", D(2024, 1, 15)),
            diag("clip", D(2023, 11, 30)),
            diag("clip", D(2024, 2, 29)),  # 30 November + 3 months = 29 February (clipped)
            diag("clip_short", D(2023, 11, 30)),
            diag("clip_short", D(2024, 2, 28)),
        ],
    )
    got = rule(one_rule(spans(3), LBP), data)
    assert got == {
        "exact": True,
        "short": False,
        "one": False,
        "none": False,
        "clip": True,
        "clip_short": False,
    }


def test_issue18_persistence_zero_duration_is_having_an_event():
    data = frames(
        patients=[patient("one"), patient("none")],
        diagnoses=[diag("one", D(2024, 1, 15))],
    )
    assert rule(one_rule(spans(0, unit=DAY), LBP), data) == {"one": True, "none": False}


def test_issue18_persistence_counts_only_events_in_the_window_and_of_the_set():
    data = frames(
        patients=[patient("old"), patient("other_code"), patient("inside")],
        diagnoses=[
            diag("old", D(2022, 1, 1)),  # before the 1-year window
            diag("old", D(2024, 6, 1)),
            diag("other_code", D(2023, 9, 1), code="I10"),
            diag("other_code", D(2024, 6, 1)),
            diag("inside", D(2023, 7, 1)),
            diag("inside", D(2024, 6, 1)),
        ],
    )
    got = rule(one_rule(spans(3, window_before(1, "year")), LBP), data)
    assert got == {"old": False, "other_code": False, "inside": True}


def test_issue18_persistence_with_a_count_on_distinct_days():
    """``at least 3 diagnoses on distinct days spanning at least 3 months``: both must hold."""
    events = lbp_events(window_before(1, "year"))
    count = ir.Compare(ir.Count(events, True), ">=", ir.Quantity(3))
    pred = ir.And((count, ir.Spans(events, ir.Duration(3, MONTH))))
    data = frames(
        patients=[patient(p) for p in ("both", "few_days", "close")],
        diagnoses=[
            *(diag("both", d) for d in (D(2023, 9, 1), D(2023, 10, 1), D(2024, 1, 1))),
            *(diag("few_days", d) for d in (D(2023, 9, 1), D(2023, 9, 1), D(2024, 1, 1))),
            *(diag("close", d) for d in (D(2024, 5, 1), D(2024, 5, 2), D(2024, 5, 3))),
        ],
    )
    assert rule(one_rule(pred, LBP), data) == {"both": True, "few_days": False, "close": False}


def test_issue18_persistence_unknown_when_unconvertible_values_could_make_it_span():
    high = ir.ValueCondition(">=", ir.Quantity(7.0, "%"))
    events = ir.EventSet(ir.Domain.OBSERVATION, ir.CodeSetRef("hba1c"), ir.Window(), high)
    pred = ir.Spans(events, ir.Duration(3, MONTH))
    data = frames(
        patients=[patient(p) for p in ("sure", "maybe_far", "maybe_near", "only_maybe", "low")],
        observations=[
            obs("sure", D(2024, 1, 1), 8.0),
            obs("sure", D(2024, 5, 1), 7.5),
            obs("sure", D(2024, 6, 1), 9.0, "{odd}"),
            obs("maybe_far", D(2024, 1, 1), 8.0),
            obs("maybe_far", D(2024, 5, 1), 9.0, "{odd}"),  # may be >= 7 %: unknown
            obs("maybe_near", D(2024, 1, 1), 8.0),
            obs("maybe_near", D(2024, 2, 1), 9.0, "{odd}"),  # too close either way: false
            obs("only_maybe", D(2023, 1, 1), 9.0, "{odd}"),
            obs("only_maybe", D(2024, 1, 1), 9.0, "{odd}"),
            obs("low", D(2023, 1, 1), 5.0),
            obs("low", D(2024, 1, 1), 8.0),  # only one row is >= 7 %
        ],
    )
    got = rule(one_rule(pred, HBA1C), data)
    assert got == {
        "sure": True,
        "maybe_far": None,
        "maybe_near": False,
        "only_maybe": None,
        "low": False,
    }


# -- new treatment ----------------------------------------------------------------------------


def first_rx(window: ir.Window) -> ir.Predicate:
    return ir.FirstEvent(ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("glp1"), window))


def test_issue18_new_treatment_first_prescription_in_the_window():
    start = INDEX - dt.timedelta(days=30)
    data = frames(
        patients=[patient(p) for p in ("new", "old", "on_start", "day_before", "none", "later")]
        + [patient("sibling"), patient("after_index_only")],
        prescriptions=[
            rx("new", INDEX - dt.timedelta(days=10)),
            rx("new", INDEX - dt.timedelta(days=5)),
            rx("old", D(2022, 6, 1)),
            rx("old", INDEX - dt.timedelta(days=10)),
            rx("on_start", start),  # window start is included
            rx("day_before", start - dt.timedelta(days=1)),
            rx("day_before", INDEX),
            rx("later", INDEX + dt.timedelta(days=1)),
            rx("sibling", D(2023, 1, 1), code="A10BJ01"),  # another code of the set, earlier
            rx("sibling", INDEX),
            rx("after_index_only", INDEX - dt.timedelta(days=3), code="C10AA01"),
        ],
    )
    got = rule(
        one_rule(first_rx(ir.Window.relative_to_index(before=ir.Duration(30, DAY))), GLP1), data
    )
    assert got == {
        "new": True,
        "old": False,
        "on_start": True,
        "day_before": False,
        "none": False,
        "later": False,
        "sibling": False,
        "after_index_only": False,
    }


def test_issue18_new_treatment_exclusive_start_and_open_start():
    start = INDEX - dt.timedelta(days=30)
    exclusive = ir.Window(
        ir.Bound(ir.IndexDate(), ir.Duration(30, DAY), "before", inclusive=False),
        ir.Bound(ir.IndexDate()),
    )
    data = frames(
        patients=[patient("on_start"), patient("inside"), patient("old")],
        prescriptions=[
            rx("on_start", start),
            rx("inside", start + dt.timedelta(days=1)),
            rx("old", D(2010, 1, 1)),
        ],
    )
    assert rule(one_rule(first_rx(exclusive), GLP1), data) == {
        "on_start": False,
        "inside": True,
        "old": False,
    }
    # no start bound: the first event is in the window whenever any is
    assert rule(one_rule(first_rx(ir.Window.up_to_index()), GLP1), data) == {
        "on_start": True,
        "inside": True,
        "old": True,
    }


def test_issue18_new_treatment_measured_from_an_event_anchor():
    """``first prescription of glp1 within 30 days after first diagnosis lbp``."""
    anchor = ir.EventDate(lbp_events(ir.Window.up_to_index()), "first")
    window = ir.Window(ir.Bound(anchor), ir.Bound(anchor, ir.Duration(30, DAY), "after"))
    data = frames(
        patients=[patient("follows"), patient("no_anchor"), patient("earlier")],
        diagnoses=[diag("follows", D(2024, 1, 1)), diag("earlier", D(2024, 1, 1))],
        prescriptions=[
            rx("follows", D(2024, 1, 20)),
            rx("no_anchor", D(2024, 1, 20)),
            rx("earlier", D(2023, 12, 1)),
            rx("earlier", D(2024, 1, 20)),
        ],
    )
    got = rule(one_rule(first_rx(window), GLP1, LBP), data)
    assert got == {"follows": True, "no_anchor": False, "earlier": False}


def test_issue18_new_treatment_unknown_when_an_earlier_row_may_be_in_the_set():
    """``first lab hba1c with value >= 7 % within 3 months before index``."""
    high = ir.ValueCondition(">=", ir.Quantity(7.0, "%"))
    window = window_before(3)
    pred = ir.FirstEvent(ir.EventSet(ir.Domain.OBSERVATION, ir.CodeSetRef("hba1c"), window, high))
    data = frames(
        patients=[patient(p) for p in ("new", "maybe_before", "sure_before", "maybe_inside")],
        observations=[
            obs("new", D(2024, 5, 1), 8.0),
            obs("new", D(2023, 1, 1), 6.0),  # below 7 %: not in the set
            obs("maybe_before", D(2024, 5, 1), 8.0),
            obs("maybe_before", D(2023, 1, 1), 80.0, "{odd}"),
            obs("sure_before", D(2024, 5, 1), 8.0),
            obs("sure_before", D(2023, 1, 1), 9.0),
            obs("maybe_inside", D(2024, 5, 1), 80.0, "{odd}"),
        ],
    )
    got = rule(one_rule(pred, HBA1C), data)
    assert got == {"new": True, "maybe_before": None, "sure_before": False, "maybe_inside": None}
