"""Spec tests: for each construct, a tiny table and the expected result per patient.

Every case also runs through the reference evaluator (``run`` asserts both agree).
"""

from __future__ import annotations

import pytest
from engine_helpers import (
    INDEX,
    D,
    codeset,
    exc,
    frames,
    inc,
    obs,
    one_rule,
    patient,
    rule,
    run,
    study,
    window_before,
)

from criteria_dsl import ir
from matcher.engine.evaluate import evaluate
from matcher.errors import MatcherError

T2D = codeset("t2d", ("icd10", "E11"), ("icd10", "E11.9"), ("icpc2", "T90"))
HBA1C = codeset("hba1c", ("loinc", "4548-4"))
MONTH = ir.TimeUnit.MONTH


def diag(pid, day, code="E11", system="icd10"):
    return {"patient_id": pid, "date": day, "system": system, "code": code}


# -- base population ---------------------------------------------------------------------------


def test_base_population_drops_opted_out_dead_and_unregistered():
    data = frames(
        patients=[
            patient("ok"),
            patient("opted", opted_out=True),
            patient("dead_before", death_date=D(2024, 6, 14)),
            patient("dead_on_index", death_date=INDEX),
            patient("dies_after", death_date=D(2024, 6, 16)),
            patient("joins_after", registered_from=D(2024, 6, 16)),
            patient("joins_on_index", registered_from=INDEX),
            patient("left_before", registered_to=D(2024, 6, 14)),
            patient("leaves_on_index", registered_to=INDEX),
            patient("unknown_start", registered_from=None),
        ]
    )
    got = run(one_rule(ir.Constant(True)), data)
    assert sorted(got) == sorted(
        ["ok", "dies_after", "joins_on_index", "leaves_on_index", "unknown_start"]
    )


def test_opted_out_removed_even_when_criteria_would_keep_them():
    data = frames(patients=[patient("a", opted_out=True), patient("b")])
    result = evaluate(one_rule(ir.Constant(True)), data)
    assert result.patients["patient_id"].to_list() == ["b"]
    assert result.counts.base == 1


# -- windows -----------------------------------------------------------------------------------


def test_window_bounds_inclusive_and_month_end_clipping():
    # index 2024-03-31, six months before = 2023-09-30 (September has 30 days)
    index = D(2024, 3, 31)
    st = one_rule(
        ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), window_before(6))),
        T2D,
        index=index,
    )
    data = frames(
        patients=[patient(p) for p in ("on_start", "day_before", "on_index", "day_after")],
        diagnoses=[
            diag("on_start", D(2023, 9, 30)),
            diag("day_before", D(2023, 9, 29)),
            diag("on_index", index),
            diag("day_after", D(2024, 4, 1)),
        ],
    )
    assert rule(st, data) == {
        "on_start": True,
        "day_before": False,
        "on_index": True,
        "day_after": False,
    }


def test_exclusive_bounds():
    start = ir.Bound(ir.CalendarDate(D(2024, 1, 1)), inclusive=False)
    end = ir.Bound(ir.IndexDate(), inclusive=False)
    st = one_rule(
        ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), ir.Window(start, end))), T2D
    )
    data = frames(
        patients=[patient(p) for p in "abc"],
        diagnoses=[diag("a", D(2024, 1, 1)), diag("b", D(2024, 1, 2)), diag("c", INDEX)],
    )
    assert rule(st, data) == {"a": False, "b": True, "c": False}


def test_leap_day_year_offset_clips_to_28_february():
    index = D(2024, 2, 29)
    st = one_rule(
        ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), window_before(1, "year"))),
        T2D,
        index=index,
    )
    data = frames(
        patients=[patient("on"), patient("before")],
        diagnoses=[diag("on", D(2023, 2, 28)), diag("before", D(2023, 2, 27))],
    )
    assert rule(st, data) == {"on": True, "before": False}


def test_weeks_and_days_after_index():
    window = ir.Window.relative_to_index(after=ir.Duration(2, ir.TimeUnit.WEEK))
    st = one_rule(ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), window)), T2D)
    data = frames(
        patients=[patient("in"), patient("out")],
        diagnoses=[diag("in", D(2024, 6, 29)), diag("out", D(2024, 6, 30))],
    )
    assert rule(st, data) == {"in": True, "out": False}


def test_code_sets_match_system_and_code():
    st = one_rule(ir.Exists(ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), ir.Window())), T2D)
    data = frames(
        patients=[patient(p) for p in ("icpc", "wrong_system", "child_code", "none")],
        diagnoses=[
            diag("icpc", D(2020, 1, 1), "T90", "icpc2"),
            diag("wrong_system", D(2020, 1, 1), "T90", "icd10"),
            diag("child_code", D(2020, 1, 1), "E11.9"),
        ],
    )
    assert rule(st, data) == {
        "icpc": True,
        "wrong_system": False,
        "child_code": True,
        "none": False,
    }


# -- counts ------------------------------------------------------------------------------------


def test_count_rows_and_distinct_days():
    events = ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), ir.Window.up_to_index())
    st = study(
        (
            inc("rows", ir.Compare(ir.Count(events), ">=", ir.Quantity(2))),
            inc("days", ir.Compare(ir.Count(events, distinct_days=True), ">=", ir.Quantity(2))),
        ),
        codesets=(T2D,),
    )
    data = frames(
        patients=[patient("same_day"), patient("two_days"), patient("none")],
        diagnoses=[
            diag("same_day", D(2020, 1, 1)),
            diag("same_day", D(2020, 1, 1), "E11.9"),
            diag("two_days", D(2020, 1, 1)),
            diag("two_days", D(2020, 1, 2)),
        ],
    )
    got = run(st, data)
    assert {p: (r["rows"], r["days"]) for p, r in got.items()} == {
        "same_day": (True, False),
        "two_days": (True, True),
        "none": (False, False),
    }


# -- age and sex -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth_month", "expected"),
    [(5, True), (7, False), (6, None), (None, None)],
)
def test_age_with_and_without_birth_month(birth_month, expected):
    # index 2024-06-15; born 1964: 60 if birthday passed, 59 otherwise
    st = one_rule(ir.Compare(ir.Age(), ">=", ir.Quantity(60)))
    data = frames(patients=[patient("a", birth_year=1964, birth_month=birth_month)])
    assert rule(st, data) == {"a": expected}


def test_age_comparison_true_for_both_candidate_ages_is_known():
    st = one_rule(ir.Compare(ir.Age(), ">=", ir.Quantity(50)))
    data = frames(patients=[patient("a", birth_year=1964, birth_month=None)])
    assert rule(st, data) == {"a": True}


def test_age_bounds_columns():
    data = frames(
        patients=[
            patient("a", birth_year=1964, birth_month=None),
            patient("b", birth_year=1964, birth_month=3),
        ]
    )
    result = evaluate(one_rule(ir.Constant(True)), data)
    assert result.patients.select("age_low", "age_high").rows() == [(59, 60), (60, 60)]


def test_sex_unknown_is_unknown():
    st = one_rule(ir.SexIs("F"))
    data = frames(patients=[patient("f", sex="F"), patient("m", sex="M"), patient("u", sex="U")])
    assert rule(st, data) == {"f": True, "m": False, "u": None}


def test_registered_for():
    st = one_rule(ir.RegisteredFor(ir.Duration(1, ir.TimeUnit.YEAR)))
    data = frames(
        patients=[
            patient("exact", registered_from=D(2023, 6, 15)),
            patient("short", registered_from=D(2023, 6, 16)),
            patient("unknown", registered_from=None),
        ]
    )
    assert rule(st, data) == {"exact": True, "short": False, "unknown": None}


# -- values ------------------------------------------------------------------------------------


def test_latest_value_ties_take_the_largest_and_missing_values_are_unknown():
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    latest = ir.ValueAggregate(events, "latest", "%")
    st = one_rule(ir.Compare(latest, ">=", ir.Quantity(7, "%")), HBA1C)
    data = frames(
        patients=[patient(p) for p in ("tie", "older_high", "no_value", "none")],
        observations=[
            obs("tie", D(2024, 1, 1), 6.5),
            obs("tie", D(2024, 1, 1), 7.5),
            obs("older_high", D(2023, 1, 1), 9.0),
            obs("older_high", D(2024, 1, 1), 6.0),
            obs("no_value", D(2024, 1, 1), None),
        ],
    )
    assert rule(st, data) == {"tie": True, "older_high": False, "no_value": None, "none": None}


@pytest.mark.parametrize(
    ("function", "expected"), [("min", False), ("max", True), ("mean", True), ("first", True)]
)
def test_value_functions(function, expected):
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    st = one_rule(
        ir.Compare(ir.ValueAggregate(events, function, "%"), ">", ir.Quantity(7, "%")), HBA1C
    )
    data = frames(
        patients=[patient("a")],
        observations=[
            obs("a", D(2022, 1, 1), 8.0),
            obs("a", D(2023, 1, 1), 6.9),
            obs("a", D(2024, 1, 1), 7.5),
            obs("a", D(2025, 1, 1), 1.0),  # after index: outside the window
        ],
    )
    assert rule(st, data) == {"a": expected}


def test_value_condition_filters_rows():
    cond = ir.ValueCondition(">=", ir.Quantity(7, "%"))
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index(), cond)
    st = one_rule(ir.Compare(ir.Count(events), ">=", ir.Quantity(2)), HBA1C)
    data = frames(
        patients=[patient("a"), patient("b")],
        observations=[
            obs("a", D(2022, 1, 1), 8.0),
            obs("a", D(2023, 1, 1), 7.0),
            obs("b", D(2022, 1, 1), 8.0),
            obs("b", D(2023, 1, 1), 6.0),
            obs("b", D(2023, 2, 1), None),
        ],
    )
    assert rule(st, data) == {"a": True, "b": False}


def test_unitless_aggregate_uses_only_rows_without_unit():
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window())
    st = one_rule(ir.Compare(ir.ValueAggregate(events, "max", None), ">", ir.Quantity(5)), HBA1C)
    data = frames(
        patients=[patient("a"), patient("b")],
        observations=[
            obs("a", D(2022, 1, 1), 8.0, unit=None),
            obs("b", D(2022, 1, 1), 8.0, unit="%"),
        ],
    )
    assert rule(st, data) == {"a": True, "b": None}


# -- logic -------------------------------------------------------------------------------------

U, T, F = ir.Constant(None), ir.Constant(True), ir.Constant(False)


@pytest.mark.parametrize(
    ("pred", "expected"),
    [
        (ir.And((T, U)), None),
        (ir.And((F, U)), False),
        (ir.Or((T, U)), True),
        (ir.Or((F, U)), None),
        (ir.Not(U), None),
        (ir.Not(F), True),
        (ir.AtLeast(2, (T, U, F)), None),
        (ir.AtLeast(2, (T, T, U)), True),
        (ir.AtLeast(2, (T, F, F)), False),
        (ir.AtLeast(1, (U,)), None),
    ],
)
def test_kleene_logic(pred, expected):
    assert rule(one_rule(pred), frames(patients=[patient("a")])) == {"a": expected}


def test_unknown_as_and_verdicts():
    st = study(
        (inc("woman", ir.SexIs("F")), inc("woman_lenient", ir.SexIs("F"), unknown_as=True)),
        (exc("excluded_unknown", ir.Constant(None), unknown_as=False),),
    )
    data = frames(patients=[patient("f"), patient("u", sex="U"), patient("m", sex="M")])
    got = run(st, data)
    assert {p: r["verdict"] for p, r in got.items()} == {
        "f": "eligible",
        "u": "possibly_eligible",
        "m": "not_eligible",
    }
    assert got["u"]["woman_lenient"] is None  # the raw value is kept before unknown_as


def test_unknown_as_false_makes_inclusion_fail():
    st = study((inc("woman", ir.SexIs("F"), unknown_as=False),))
    data = frames(patients=[patient("u", sex="U")])
    assert run(st, data)["u"]["verdict"] == "not_eligible"


# -- event-date anchors --------------------------------------------------------------------------


def test_window_relative_to_first_diagnosis_and_missing_anchor():
    diagnosis = ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), ir.Window.up_to_index())
    first = ir.EventDate(diagnosis, "first")
    window = ir.Window(ir.Bound(first), ir.Bound(first, ir.Duration(3, MONTH), "after"))
    st = one_rule(
        ir.Exists(ir.EventSet("observations", ir.CodeSetRef("hba1c"), window)), T2D, HBA1C
    )
    data = frames(
        patients=[patient(p) for p in ("within", "late", "no_anchor")],
        diagnoses=[
            diag("within", D(2023, 11, 30)),
            diag("within", D(2024, 5, 1)),
            diag("late", D(2023, 1, 1)),
        ],
        observations=[
            obs("within", D(2024, 2, 29), 7.0),
            obs("late", D(2023, 4, 2), 7.0),
            obs("no_anchor", D(2023, 1, 1), 7.0),
        ],
    )
    assert rule(st, data) == {"within": True, "late": False, "no_anchor": False}


def test_two_levels_of_event_anchors():
    diagnosis = ir.EventSet("diagnoses", ir.CodeSetRef("t2d"), ir.Window())
    after_diag = ir.Window(ir.Bound(ir.EventDate(diagnosis, "first"), inclusive=False))
    lab = ir.EventSet("observations", ir.CodeSetRef("hba1c"), after_diag)
    after_lab = ir.Window(ir.Bound(ir.EventDate(lab, "latest")))
    visit = ir.EventSet("encounters", None, after_lab, kinds=("home",))
    st = one_rule(ir.Exists(visit), T2D, HBA1C)
    enc = [
        {"patient_id": "a", "date": D(2024, 3, 1), "practice_id": "p1", "kind": "home"},
        {"patient_id": "b", "date": D(2024, 3, 1), "practice_id": "p1", "kind": "office"},
    ]
    data = frames(
        patients=[patient("a"), patient("b")],
        diagnoses=[diag("a", D(2023, 1, 1)), diag("b", D(2023, 1, 1))],
        observations=[obs("a", D(2023, 6, 1), 7.0), obs("b", D(2023, 6, 1), 7.0)],
        encounters=enc,
    )
    assert rule(st, data) == {"a": True, "b": False}


# -- errors ------------------------------------------------------------------------------------


def test_reserved_rule_name_is_refused():
    st = study((inc("verdict", ir.Constant(True)),))
    with pytest.raises(MatcherError, match="reserved"):
        evaluate(st, frames(patients=[patient("a")]))


def test_index_date_argument_overrides_the_study():
    st = one_rule(ir.Compare(ir.Age(), ">=", ir.Quantity(60)))
    data = frames(patients=[patient("a", birth_year=1964, birth_month=3)])
    assert run(st, data, index_date=D(2024, 6, 1))["a"]["r"] is True
    assert run(st, data, index_date=D(2024, 2, 1))["a"]["r"] is False


# -- units -------------------------------------------------------------------------------------


def test_hba1c_percent_and_mmol_per_mol_convert_both_ways():
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    st = study(
        (
            inc(
                "high_mmol",
                ir.Compare(
                    ir.ValueAggregate(events, "latest", "mmol/mol"),
                    ">=",
                    ir.Quantity(53, "mmol/mol"),
                ),
            ),
            inc(
                "high_pct",
                ir.Compare(ir.ValueAggregate(events, "latest", "%"), ">=", ir.Quantity(7, "%")),
            ),
        ),
        codesets=(HBA1C,),
    )
    data = frames(
        patients=[patient(p) for p in ("pct", "mmol", "low", "bad_unit")],
        observations=[
            obs("pct", D(2024, 1, 1), 7.2, "%"),  # 55.2 mmol/mol
            obs("mmol", D(2024, 1, 1), 60.0, "mmol/mol"),  # 7.6 %
            obs("low", D(2024, 1, 1), 6.0, "%"),
            obs("low", D(2023, 1, 1), 90.0, "mmol/mol"),  # older: not the latest
            obs("bad_unit", D(2024, 1, 1), 7.5, "mg/dL"),  # does not convert: unknown
        ],
    )
    got = run(st, data)
    assert {p: (r["high_mmol"], r["high_pct"]) for p, r in got.items()} == {
        "pct": (True, True),
        "mmol": (True, True),
        "low": (False, False),
        "bad_unit": (None, None),
    }


def test_latest_skips_older_rows_that_do_not_convert_but_not_later_ones():
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    st = one_rule(
        ir.Compare(ir.ValueAggregate(events, "latest", "%"), ">=", ir.Quantity(7, "%")), HBA1C
    )
    data = frames(
        patients=[patient("older_bad"), patient("later_bad")],
        observations=[
            obs("older_bad", D(2023, 1, 1), 5.0, "kg"),
            obs("older_bad", D(2024, 1, 1), 8.0, "%"),
            obs("later_bad", D(2024, 1, 1), 5.0, "kg"),  # the latest value: unknown
            obs("later_bad", D(2023, 1, 1), 8.0, "%"),
        ],
    )
    assert rule(st, data) == {"older_bad": True, "later_bad": None}
