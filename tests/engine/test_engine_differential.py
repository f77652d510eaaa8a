"""Differential tests: the Polars engine and the reference evaluator agree patient by patient
on random studies over random small tables (unknowns included)."""

from __future__ import annotations

import polars as pl
from engine_helpers import engine_rows, reference_rows
from engine_strategies import (
    INDEXES,
    datasets,
    many_studies_and_data,
    predicates,
    study_and_data,
)
from hypothesis import given, settings

from criteria_dsl import ir
from matcher.data.codenorm import normal_code
from matcher.data.loader import Dataset
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate, evaluate_many


@given(study_and_data())
def test_engine_agrees_with_reference(case):
    study, data = case
    result = evaluate(study, data, validate=False)
    assert engine_rows(result) == reference_rows(study, data)


def _in_normal_form(data: Dataset) -> Dataset:
    """The same data with every code written in its normal form (one code at a time)."""
    absent = data.not_provided()  # an optional table left out stays left out
    tables = {name: data.table(name).collect() for name in TABLES if name not in absent}
    for name, frame in tables.items():
        if not {"system", "code"} <= set(frame.columns):
            continue
        codes = [normal_code(s, c) for s, c in zip(frame["system"], frame["code"], strict=True)]
        tables[name] = frame.with_columns(pl.Series("code", codes, dtype=pl.String))
    return Dataset.from_frames(validate=False, **tables)


@given(study_and_data())
def test_issue12_item1_codes_without_their_dot_give_the_same_verdicts(case):
    """Codes written undotted, in lower case, padded or with fillers match as in normal form."""
    study, data = case
    spelled = engine_rows(evaluate(study, data, validate=False))
    clean = _in_normal_form(data)
    assert spelled == engine_rows(evaluate(study, clean, validate=False))
    assert spelled == reference_rows(study, clean)


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(many_studies_and_data())
def test_evaluate_many_equals_one_by_one(case):
    items, data = case
    together = evaluate_many(items, data, validate=False)
    for study, result in zip(items, together, strict=True):
        alone = evaluate(study, data, validate=False)
        assert result.patients.equals(alone.patients)
        assert result.counts == alone.counts


EVERY_TYPE = {
    *ir.PREDICATE_TYPES,
    ir.Age,
    ir.Count,
    ir.ValueAggregate,
    ir.IndexDate,
    ir.CalendarDate,
    ir.EventDate,
    ir.ValueCondition,
    ir.Bound,
    ir.Window,
    ir.EventSet,
    ir.DoseCondition,  # issue 18: drugs
    ir.ValueVariation,  # issue 18: language reach
}


def test_guard_every_node_type_is_generated():
    seen: set = set()

    @settings(max_examples=600, derandomize=True, database=None)
    @given(predicates())
    def collect(pred):
        for n in ir.walk(pred):
            seen.add(type(n))
            if isinstance(n, ir.EventSet):
                seen.add(n.domain)
                seen.add(("levels", _levels(n)))
                if n.same_day is not None:
                    seen.add("same day")  # issue 18: cause of an event
            if isinstance(n, ir.ValueAggregate):
                seen.add(n.function)
            if isinstance(n, ir.Count) and n.distinct_drugs:
                seen.add("distinct drugs")  # issue 18: language reach
            if isinstance(n, ir.Count) and n.atc_level is not None:
                seen.add("distinct classes")  # langdata (each level: the spec tests)

    collect()
    wanted = EVERY_TYPE | set(ir.Domain) | set(ir.AGGREGATE_FUNCTIONS) | {("levels", 2)}
    wanted |= {"distinct drugs", "distinct classes", "same day"}
    assert wanted - seen == set()


def _levels(events: ir.EventSet) -> int:
    """How many EventDate anchors are stacked below ``events``' window."""
    anchors = [
        b.anchor
        for b in (events.window.start, events.window.end)
        if b is not None and isinstance(b.anchor, ir.EventDate)
    ]
    return max((1 + _levels(a.events) for a in anchors), default=0)


def test_guard_data_has_every_spelling_and_unconvertible_units():
    """The generated tables write codes undotted, in lower case, padded and with fillers, and
    hold values in units that do not convert (so the tests above exercise issue 12)."""
    codes: set[str] = set()
    units: set[str | None] = set()

    @settings(max_examples=150, derandomize=True, database=None)
    @given(datasets(INDEXES[0]))
    def collect(data):
        for name in ("diagnoses", "prescriptions", "observations"):
            codes.update(data.table(name).collect()["code"].to_list())
        units.update(data.observations.collect()["unit"].to_list())

    collect()
    assert {"E119", "e11.9", " E11.9 ", "E11X", "E11-", "a10ba02", " 4548-4 "} <= codes
    assert {"kg", "{odd}", "mEq/L", None} <= units


# ---- issue 18: records ----


def test_issue18_guard_data_has_procedures_absent_and_present_and_hospital_contacts():
    """The generated data sets sometimes leave the optional procedures table out (every
    criterion on it unknown), sometimes hold CCAM and SNOMED procedures, and hold encounters
    outside the practice (admissions, emergencies, with no practice)."""
    seen: set = set()

    @settings(max_examples=150, derandomize=True, database=None)
    @given(datasets(INDEXES[0]))
    def collect(data):
        if "procedures" in data.not_provided():
            seen.add("absent")
        else:
            seen.update(data.procedures.collect()["system"].to_list())
        encounters = data.encounters.collect()
        seen.update(encounters.filter(pl.col("practice_id").is_null())["kind"].to_list())

    collect()
    assert {"absent", "ccam", "snomed", "admission", "emergency"} <= seen


def test_issue18_guard_data_has_allergies_absent_and_present_with_every_kind():
    """The generated data sets sometimes leave the optional allergies table out, and
    otherwise hold allergies, intolerances and records of unrecorded kind (null)."""
    seen: set = set()

    @settings(max_examples=150, derandomize=True, database=None)
    @given(datasets(INDEXES[0]))
    def collect(data):
        if "allergies" in data.not_provided():
            seen.add("absent")
        else:
            seen.update(data.allergies.collect()["kind"].to_list())

    collect()
    assert {"absent", "allergy", "intolerance", None} <= seen
