"""Fifty studies in one plan (issue 16, target 3): identical rule columns of several studies
computed once, rule columns reading one aggregate frame computed over its rows (the patients
with events) then placed, the verdict read from the bitmasks, the age bounds once per date.
Each path is checked against one-by-one evaluation, the frame path and the reference."""

from __future__ import annotations

import polars as pl
from engine_helpers import (
    INDEX,
    D,
    codeset,
    engine_rows,
    exc,
    frames,
    inc,
    obs,
    patient,
    reference_rows,
    study,
    window_before,
)
from engine_strategies import many_studies_and_data
from hypothesis import given, settings
from test_engine_dense_issue16 import KeyedData

from benchmarks.variants import vary_study
from criteria_dsl import ir
from matcher.data.loader import Dataset
from matcher.engine import compile as compiled
from matcher.engine.evaluate import evaluate, evaluate_many

T2D = codeset("t2d", ("icd10", "E11.9"))
HBA1C = codeset("hba1c", ("loinc", "4548-4"))


def _study() -> ir.Study:
    diagnosis = ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("t2d"), window_before(24))
    lab = ir.EventSet(ir.Domain.OBSERVATION, ir.CodeSetRef("hba1c"), window_before(12))
    latest = ir.ValueAggregate(lab, "latest", "%")
    return study(
        (
            inc("adult", ir.Compare(ir.Age(), ">=", ir.Quantity(18))),
            inc("t2d", ir.Exists(diagnosis)),
            inc("high", ir.Compare(latest, ">", ir.Quantity(7, "%")), unknown_as=True),
        ),
        (
            exc("few", ir.Compare(ir.Count(diagnosis), "<", ir.Quantity(1))),
            exc("old", ir.Compare(ir.Age(), ">", ir.Quantity(80))),
        ),
        codesets=(T2D, HBA1C),
    )


def _data() -> dict[str, pl.DataFrame]:
    def dx(pid: str, day: D) -> dict:
        return {"patient_id": pid, "date": day, "system": "icd10", "code": "E11.9"}

    return frames(
        patients=[
            patient("dm_high"),
            patient("dm_low", birth_year=1930),
            patient("dm_mg", birth_year=2010),  # a child
            patient("none"),  # no event: the value of every rule at the aggregates' fills
            patient("lab_only"),
            patient("gone", opted_out=True),
        ],
        diagnoses=[
            dx("dm_high", D(2023, 1, 1)),
            dx("dm_low", D(2024, 1, 1)),
            dx("dm_mg", D(2022, 12, 1)),
            dx("gone", D(2024, 1, 1)),
        ],
        observations=[
            obs("dm_high", D(2024, 3, 1), 8.1),
            obs("dm_low", D(2024, 3, 1), 6.0),
            obs("dm_mg", D(2024, 3, 1), 60.0, unit="mg"),  # does not convert: unknown
            obs("lab_only", D(2024, 2, 1), 9.0),
        ],
    )


def _studies() -> list[ir.Study]:
    base = _study()
    # variants share the age rules and the base population; the last is the first again
    return [vary_study(base, k) for k in range(4)] + [base]


def test_issue16_fifty_variants_share_columns_and_equal_one_by_one():
    data = _data()
    studies = _studies()
    keyed = KeyedData(Dataset.from_frames(validate=False, **data))
    for source in (keyed, data):
        together = evaluate_many(studies, source, index_date=INDEX, validate=False)
        for st, result in zip(studies, together, strict=True):
            alone = evaluate(st, source, index_date=INDEX, validate=False)
            assert result.patients.equals(alone.patients)
            assert result.counts == alone.counts
            assert engine_rows(result) == reference_rows(st, data, INDEX)
    assert together[0].patients.equals(together[-1].patients)


def test_issue16_fifty_a_patient_without_events_gets_each_rule_value_at_the_fills():
    """On the row-number layout, 'count < 1' is true and 'latest > 7' unknown (then true,
    ``unknown_as``) for a patient absent from every aggregate: the values computed from the
    fills, not nulls."""
    data = _data()
    keyed = KeyedData(Dataset.from_frames(validate=False, **data))
    (result,) = evaluate_many([_study()], keyed, index_date=INDEX, validate=False)
    rows = engine_rows(result)
    assert rows["none"] == {
        "adult": True,
        "t2d": False,
        "high": None,
        "few": True,
        "old": False,
        "verdict": "not_eligible",
    }
    assert rows["dm_high"]["verdict"] == "eligible"
    assert rows["dm_mg"]["high"] is None  # mg does not convert to %: unknown
    assert rows == reference_rows(_study(), data, INDEX)


def test_issue16_fifty_paths_are_taken(monkeypatch):
    """Identical rule columns are computed once, and the rules reading one aggregate frame
    are computed over its rows (the spies see both)."""
    merged, sparse = [], []
    real_distinct, real_sparse = compiled.distinct_columns, compiled.sparse_columns

    def distinct_spy(named):
        named = list(named)
        first, aliases, same = real_distinct(named)
        merged.append((len(named), len(first)))
        return first, aliases, same

    def sparse_spy(rules, got, fills):
        sparse.extend(rule.meta.output_name() for rule in rules)
        return real_sparse(rules, got, fills)

    monkeypatch.setattr(compiled, "distinct_columns", distinct_spy)
    monkeypatch.setattr(compiled, "sparse_columns", sparse_spy)
    keyed = KeyedData(Dataset.from_frames(validate=False, **_data()))
    evaluate_many(_studies(), keyed, index_date=INDEX, validate=False)
    # 5 studies x (base + 5 rules): the base, the age rules and the repeated study merge
    ((named, first),) = merged
    assert named == 30
    assert first < 20
    assert "__s0:t2d" in sparse and "__s0:few" in sparse  # one frame each
    assert "__s0:adult" not in sparse  # a patient column


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(many_studies_and_data())
def test_issue16_fifty_repeated_studies_equal_their_first_evaluation(case):
    """Random studies, each given twice (every rule column of the copy merged with the
    first's), on the row-number layout: the copies' tables equal the originals' and the
    reference evaluator's."""
    items, data = case
    keyed = KeyedData(data)
    results = evaluate_many(items + items, keyed, validate=False)
    for study_, first, copy in zip(items, results, results[len(items) :], strict=False):
        assert copy.patients.equals(first.patients)
        assert copy.counts == first.counts
        assert engine_rows(first) == reference_rows(study_, data)
