"""Spec tests of issue 18 (records): procedures, admissions and emergency visits, and the
optional procedures table (not provided: unknown; empty: false). Every case runs the Polars
engine AND the reference evaluator and checks they agree patient by patient."""

from __future__ import annotations

import datetime as dt

from engine_helpers import D, frames, patient, run

from criteria_dsl import compile_text
from matcher.data.loader import Dataset
from matcher.engine.evaluate import evaluate
from matcher.engine.records import absent_warnings

CRITERIA = """
study "REC" version 1
index date 2024-06-15
codes bariatric = ccam HFFC018, HFCC003
codes colonoscopy = ccam HHQE005, cpt 45378, snomed 73761001

inclusion
  bariatric: has procedure of bariatric within 5 years before index
  colono: at least 2 procedures colonoscopy ever on distinct days
  hospital: at least 2 admissions within 12 months before index
  er: has no emergency visit within 6 months before index
  after_surgery: has encounter within 30 days after first procedure bariatric
"""


def _procedure(pid: str, day: dt.date, system: str, code: str) -> dict:
    return {"patient_id": pid, "date": day, "system": system, "code": code}


def _encounter(pid: str, day: dt.date, kind: str) -> dict:
    outside = kind in ("admission", "emergency")
    return {"patient_id": pid, "date": day, "practice_id": None if outside else "p1", "kind": kind}


PATIENTS = [patient(p) for p in ("a", "b", "c", "d")]
PROCEDURES = [
    # a: sleeve exactly 5 years before index (inclusive bound), two colonoscopies in two systems
    _procedure("a", D(2019, 6, 15), "ccam", "HFFC018"),
    _procedure("a", D(2020, 1, 1), "cpt", "45378"),
    _procedure("a", D(2021, 1, 1), "snomed", "73761001"),
    # b: bypass one day too early; two colonoscopies the same day (one distinct day)
    _procedure("b", D(2019, 6, 14), "ccam", "hfcc003"),  # lower case: matched in normal form
    _procedure("b", D(2022, 2, 2), "ccam", "HHQE005"),
    _procedure("b", D(2022, 2, 2), "snomed", "73761001"),
    # c: a procedure outside every set
    _procedure("c", D(2023, 1, 1), "ccam", "DEQP003"),
]
ENCOUNTERS = [
    _encounter("a", D(2019, 7, 1), "office"),  # 16 days after the sleeve
    _encounter("b", D(2023, 6, 15), "admission"),  # exactly 12 months before index
    _encounter("b", D(2024, 6, 15), "admission"),  # on the index date
    _encounter("c", D(2023, 6, 14), "admission"),  # one day too early
    _encounter("c", D(2024, 1, 1), "admission"),
    _encounter("c", D(2023, 12, 15), "emergency"),  # exactly 6 months before index
    _encounter("d", D(2023, 12, 14), "emergency"),  # one day too early
]


def _data(procedures: list[dict] | None) -> Dataset:
    tables = frames(patients=PATIENTS, encounters=ENCOUNTERS)
    if procedures is not None:
        tables |= frames(procedures=procedures)
    return Dataset.from_frames(**tables)


def test_issue18_procedures_windows_systems_and_distinct_days():
    got = run(compile_text(CRITERIA), _data(PROCEDURES))
    assert {p: r["bariatric"] for p, r in got.items()} == {
        "a": True, "b": False, "c": False, "d": False
    }  # fmt: skip
    assert {p: r["colono"] for p, r in got.items()} == {
        "a": True, "b": False, "c": False, "d": False
    }  # fmt: skip
    assert {p: r["after_surgery"] for p, r in got.items()} == {
        "a": True, "b": False, "c": False, "d": False
    }  # fmt: skip


def test_issue18_admissions_and_emergency_visits_are_encounter_kinds():
    got = run(compile_text(CRITERIA), _data(PROCEDURES))
    assert {p: r["hospital"] for p, r in got.items()} == {
        "a": False, "b": True, "c": False, "d": False
    }  # fmt: skip
    assert {p: r["er"] for p, r in got.items()} == {"a": True, "b": True, "c": False, "d": True}


def test_issue18_procedures_not_provided_are_unknown_and_an_empty_table_is_false():
    study = compile_text(CRITERIA)
    absent = run(study, _data(None))
    for row in absent.values():
        assert row["bariatric"] is None and row["colono"] is None
        assert row["after_surgery"] is None  # a window measured from a procedure: unknown too
        assert row["verdict"] != "eligible"
    assert {p: r["hospital"] for p, r in absent.items()}["b"] is True  # other rules unchanged
    empty = run(study, _data([]))
    for row in empty.values():
        assert row["bariatric"] is False and row["colono"] is False
        assert row["after_surgery"] is False


def test_issue18_count_warning_names_the_table_and_the_rules():
    study = compile_text(CRITERIA)
    data = _data(None)
    assert data.not_provided() == frozenset({"procedures", "allergies"})  # neither given
    (warning,) = absent_warnings(study, data.not_provided())
    assert "no procedures table" in warning
    assert "bariatric, colono, after_surgery are unknown for every patient" in warning
    assert absent_warnings(study, _data([]).not_provided()) == []
    result = evaluate(study, data)
    assert result.counts  # evaluation itself succeeds


def test_issue18_result_warnings_and_count_cli_name_the_missing_table(tmp_path):
    study = compile_text(CRITERIA)
    result = evaluate(study, _data(None))
    assert result.not_provided == frozenset({"procedures", "allergies"})
    assert any("no procedures table" in w for w in result.code_set_warnings())
    assert not any(
        "no procedures table" in w for w in evaluate(study, _data([])).code_set_warnings()
    )
