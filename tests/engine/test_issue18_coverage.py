"""Issue 18 (treatment length): ``has prescription of X covering OP N days <window>``, spec
tests. Each prescription covers ``[date, date + duration_days - 1]``; overlaps count once; the
days are counted inside the window; a prescription without a duration leaves the answer
unknown unless the known days decide it. Every case also runs through the reference evaluator
(``rule`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import (
    INDEX,
    D,
    codeset,
    engine_rows,
    frames,
    one_rule,
    patient,
    reference_rows,
    rule,
    window_before,
)
from engine_strategies import answers_reached, coverages, datasets, one_rule_studies
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json
from matcher.engine.evaluate import evaluate

INSULIN = codeset("insulin", ("atc", "A10AE04"), ("atc", "A10AB05"))


def rx(pid, day, days, code="A10AE04", **kw):
    return {
        "patient_id": pid,
        "date": day,
        "system": "atc",
        "code": code,
        "duration_days": days,
        **kw,
    }


def covers(op: str, days: int, window: ir.Window | None = None, value=None) -> ir.Covers:
    events = ir.EventSet(
        ir.Domain.PRESCRIPTION, ir.CodeSetRef("insulin"), window or window_before(12), value
    )
    return ir.Covers(events, op, days)


def test_issue18_treatment_length_more_than_a_week_within_the_year():
    """NCT01951651 C15: "received insulin for more than one week within the previous year"."""
    data = frames(
        patients=[patient(p) for p in ("week", "eight", "two_short", "overlap", "none", "other")],
        prescriptions=[
            rx("week", D(2024, 3, 1), 7),  # exactly 7 days: not more than 7
            rx("eight", D(2024, 3, 1), 8),
            rx("two_short", D(2024, 1, 1), 4),  # 4 + 4 days apart: 8 days
            rx("two_short", D(2024, 2, 1), 4),
            rx("overlap", D(2024, 3, 1), 5),  # 1-5 and 3-7 March: 7 days, not 10
            rx("overlap", D(2024, 3, 3), 5),
            rx("other", D(2024, 3, 1), 30, code="A10BA02"),  # metformin: not in the set
        ],
    )
    assert rule(one_rule(covers(">", 7), INSULIN), data) == {
        "week": False,
        "eight": True,
        "two_short": True,
        "overlap": False,
        "none": False,
        "other": False,
    }


def test_issue18_treatment_length_is_clipped_to_the_window():
    """The window bounds the days counted: a prescription dated before it counts for its days
    inside it; one running past the index date counts up to the index date."""
    start = D(2023, 6, 15)  # index - 12 months
    data = frames(
        patients=[patient(p) for p in ("before", "across_start", "across_end", "after")],
        prescriptions=[
            rx("before", D(2023, 1, 1), 30),  # ends long before the window
            rx("across_start", start - D.resolution * 20, 30),  # 10 days inside
            rx("across_end", INDEX - D.resolution * 9, 30),  # 10 days up to the index date
            rx("after", INDEX + D.resolution, 30),  # after the window
        ],
    )
    assert rule(one_rule(covers(">=", 10), INSULIN), data) == {
        "before": False,
        "across_start": True,
        "across_end": True,
        "after": False,
    }
    assert rule(one_rule(covers(">=", 11), INSULIN), data) == dict.fromkeys(data_ids(data), False)


def data_ids(data) -> list[str]:
    return list(data["patients"]["patient_id"])


def test_issue18_treatment_length_without_duration_is_unknown_unless_decided():
    """A prescription without a duration may cover from 0 days up to the window's end."""
    data = frames(
        patients=[patient(p) for p in ("decided", "open", "zero", "late_null")],
        prescriptions=[
            rx("decided", D(2024, 1, 1), 30),  # 30 known days decide 'at least 30'
            rx("decided", D(2024, 3, 1), None),
            rx("open", D(2024, 1, 1), 10),
            rx("open", D(2024, 3, 1), None),  # could cover up to the index date
            rx("zero", D(2024, 1, 1), 0),  # a duration of 0 covers nothing
            rx("late_null", INDEX - D.resolution * 5, None),  # at most 6 days before index
        ],
    )
    assert rule(one_rule(covers(">=", 30), INSULIN), data) == {
        "decided": True,
        "open": None,
        "zero": False,
        "late_null": False,
    }
    assert rule(one_rule(covers("<", 30), INSULIN), data) == {
        "decided": False,
        "open": None,
        "zero": True,
        "late_null": True,
    }


def test_issue18_treatment_length_without_window_end_and_duration_is_unknown():
    """``ever``: a prescription without a duration could cover any number of days."""
    ever = ir.Window()
    data = frames(
        patients=[patient("a"), patient("b")],
        prescriptions=[rx("a", D(2020, 1, 1), None), rx("b", D(2020, 1, 1), 400)],
    )
    assert rule(one_rule(covers("<=", 365, ever), INSULIN), data) == {"a": None, "b": False}


def test_issue18_treatment_length_composes_with_a_dose_filter():
    """Only the prescriptions the dose filter selects cover days; one whose dose is unknown
    may count."""
    dose = ir.DoseCondition(True, ">=", ir.Quantity(40, "[iU]"))
    data = frames(
        patients=[patient(p) for p in ("high", "low", "unknown_dose")],
        prescriptions=[
            rx("high", D(2024, 1, 1), 30, daily_dose=50.0, dose_unit="[iU]"),
            rx("low", D(2024, 1, 1), 30, daily_dose=10.0, dose_unit="[iU]"),
            rx("unknown_dose", D(2024, 1, 1), 30, daily_dose=None, dose_unit=None),
        ],
    )
    pred = covers(">=", 30, value=dose)
    assert rule(one_rule(pred, INSULIN), data) == {"high": True, "low": False, "unknown_dose": None}


SOURCE = (
    'study "S"\ncodes insulin = atc A10A and descendants\ninclusion\n'
    "  t2d: has diagnosis icd10 E11 and descendants\n"
)


def test_issue18_treatment_length_compiles_formats_and_round_trips():
    text = SOURCE + (
        "  r1: has prescription of insulin covering more than 1 week within 1 year before index\n"
        "  r2: has no prescription of insulin covering at least 30 days within 1 year before "
        "index\n"
        "  r3: has prescription of insulin with daily dose >= 40 [iU] covering at most 10 days "
        "ever\n"
        "  r4: has prescription of insulin covering less than 5 days between 2020-01-01 and "
        "2020-12-31\n"
    )
    study = compile_text(text)
    r1, r2, r3, r4 = (r.predicate for r in study.inclusion[1:])
    assert (r1.op, r1.days) == (">", 7)
    assert isinstance(r2, ir.Not) and (r2.item.op, r2.item.days) == (">=", 30)
    assert isinstance(r3.events.value, ir.DoseCondition) and r3.op == "<="
    assert r4.op == "<"
    formatted = format_text(text)
    assert "covering more than 1 week" in formatted and "covering less than 5 days" in formatted
    assert compile_text(formatted) == study
    assert from_json(to_json(study)) == study
    assert study_hash(compile_text(formatted)) == study_hash(study)
    words = explain(study)
    assert "covered by prescriptions from code set 'insulin' are more than 7" in words


@pytest.mark.parametrize(
    ("rule_text", "code", "at"),
    [
        (
            "has prescription of insulin covering at least 1 month within 1 year before index",
            "E317",
            "covering",
        ),
        ("has diagnosis icd10 E11 covering at least 30 days", "E317", "covering"),
        ("at least 2 prescriptions of insulin covering at least 30 days", "E310", "covering"),
        (
            "has prescription of insulin covering at least 3 days within 1 year before first "
            "diagnosis icd10 E11",
            "E317",
            "covering",
        ),
        (
            "has prescription of insulin covering at least 3 days covering at most 9 days",
            "E406",
            "covering at most",
        ),
        (
            "has prescription of insulin spanning at least 3 months covering at least 3 days",
            "E317",
            "covering",
        ),
    ],
)
def test_issue18_treatment_length_bad_uses_name_line_and_column(rule_text, code, at):
    """Each misuse is one error on the 'covering' option: its line and column."""
    errors = check_text(SOURCE + f"  r: {rule_text}\n", filename="f.p4dp").errors
    assert [e.code.split()[0] for e in errors] == [code]
    assert (errors[0].line, errors[0].column) == (5, len("  r: ") + rule_text.index(at) + 1)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_issue18_treatment_length_engine_agrees_with_reference_on_random_data(data):
    """A coverage alone in a study, on random prescriptions (durations none, zero, around the
    thresholds), patient by patient with the reference; the full differential test mixes it
    with every other construct."""
    study = data.draw(one_rule_studies(coverages()))
    rows = data.draw(datasets(study.index_date))
    assert engine_rows(evaluate(study, rows, validate=False)) == reference_rows(study, rows)


def test_issue18_guard_coverage_meets_true_false_and_unknown():
    """The random cases above reach every answer, unknowns (missing durations) included."""
    assert answers_reached(one_rule_studies(coverages())) == {True, False, None}
