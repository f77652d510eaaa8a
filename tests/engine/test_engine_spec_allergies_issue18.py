"""Spec tests of issue 18 (records): allergies and intolerances, the optional ``allergies``
table (not provided: unknown; empty: false) and the ``of kind`` filter (a record of
unrecorded kind: unknown). Every case runs the Polars engine AND the reference evaluator and
checks they agree patient by patient."""

from __future__ import annotations

import datetime as dt

from engine_helpers import D, frames, patient, run

from criteria_dsl import compile_text
from matcher.data.loader import Dataset
from matcher.engine.records import absent_warnings

CRITERIA = """
study "ALG" version 1
index date 2024-06-15
codes penicillins = atc J01C and descendants
codes peanut = snomed 762952008

inclusion
  penicillin: has allergy to penicillins
  no_statin: has no allergy to atc C10AA and descendants
  metformin_intolerance: has allergy to atc A10BA02 of kind intolerance
  true_allergy: has allergy to penicillins of kind allergy
  recent: has allergy to peanut within 2 years before index
  two: at least 2 allergies to penicillins
  after_allergy: has encounter within 30 days after first allergy to peanut
"""


def _allergy(pid: str, day: dt.date, system: str, code: str, kind: str | None) -> dict:
    return {"patient_id": pid, "date": day, "system": system, "code": code, "kind": kind}


PATIENTS = [patient(p) for p in ("a", "b", "c", "d")]
ALLERGIES = [
    # a: amoxicillin allergy and a simvastatin intolerance; peanut exactly 2 years before
    _allergy("a", D(2015, 3, 1), "atc", "J01CA04", "allergy"),
    _allergy("a", D(2020, 1, 1), "atc", "c10aa01", "intolerance"),  # matched in normal form
    _allergy("a", D(2022, 6, 15), "snomed", "762952008", "allergy"),
    # b: penicillin of unrecorded kind (twice); metformin intolerance; peanut one day too early
    _allergy("b", D(2019, 1, 1), "atc", "J01CR02", None),
    _allergy("b", D(2019, 2, 1), "atc", "J01CR02", None),
    _allergy("b", D(2021, 1, 1), "atc", "A10BA02", "intolerance"),
    _allergy("b", D(2022, 6, 14), "snomed", "762952008", "intolerance"),
    # c: metformin of unrecorded kind; a penicillin allergy recorded after the index date
    _allergy("c", D(2021, 1, 1), "atc", "A10BA02", None),
    _allergy("c", D(2024, 7, 1), "atc", "J01CA04", "allergy"),
    # d: metformin allergy (not an intolerance)
    _allergy("d", D(2021, 1, 1), "atc", "A10BA02", "allergy"),
]
ENCOUNTERS = [{"patient_id": "a", "date": D(2022, 7, 1), "practice_id": "p1", "kind": "office"}]


def _data(allergies: list[dict] | None) -> Dataset:
    tables = frames(patients=PATIENTS, encounters=ENCOUNTERS)
    if allergies is not None:
        tables |= frames(allergies=allergies)
    return Dataset.from_frames(**tables)


def _column(got: dict, rule: str) -> dict:
    return {p: r[rule] for p, r in got.items()}


def test_issue18_allergy_covers_both_kinds_and_descendants():
    got = run(compile_text(CRITERIA), _data(ALLERGIES))
    assert _column(got, "penicillin") == {"a": True, "b": True, "c": False, "d": False}
    assert _column(got, "no_statin") == {"a": False, "b": True, "c": True, "d": True}
    assert _column(got, "two") == {"a": False, "b": True, "c": False, "d": False}


def test_issue18_allergy_of_kind_filters_and_an_unrecorded_kind_is_unknown():
    got = run(compile_text(CRITERIA), _data(ALLERGIES))
    assert _column(got, "metformin_intolerance") == {"a": False, "b": True, "c": None, "d": False}
    assert _column(got, "true_allergy") == {"a": True, "b": None, "c": False, "d": False}


def test_issue18_allergy_window_boundaries_and_anchor():
    got = run(compile_text(CRITERIA), _data(ALLERGIES))
    assert _column(got, "recent") == {"a": True, "b": False, "c": False, "d": False}
    assert _column(got, "after_allergy") == {"a": True, "b": False, "c": False, "d": False}


def test_issue18_allergies_not_provided_are_unknown_and_an_empty_table_is_false():
    study = compile_text(CRITERIA)
    absent = run(study, _data(None))
    for row in absent.values():
        assert {row[r] for r in ("penicillin", "no_statin", "two", "after_allergy")} == {None}
        assert row["verdict"] != "eligible"
    empty = run(study, _data([]))
    for row in empty.values():
        assert row["penicillin"] is False and row["metformin_intolerance"] is False
        assert row["no_statin"] is True and row["two"] is False


def test_issue18_count_warning_names_the_allergies_table_and_the_rules():
    study = compile_text(CRITERIA)
    data = _data(None)
    assert data.not_provided() == frozenset({"allergies", "procedures"})
    (warning,) = absent_warnings(study, data.not_provided())
    assert "no allergies table" in warning
    assert "penicillin, no_statin, metformin_intolerance" in warning
    assert absent_warnings(study, _data([]).not_provided()) == []
