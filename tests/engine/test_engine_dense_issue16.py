"""The snapshot path of the engine (aggregates placed by row number over the studies' base
populations only, ``compile.attach_dense``) against the frame path, on random studies and
data (issue 16, engine: the new path checked patient by patient like the others)."""

from __future__ import annotations

import polars as pl
from engine_helpers import engine_rows, reference_rows
from engine_strategies import many_studies_and_data
from hypothesis import given, settings

from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate_many


class KeyedData:
    """``data`` laid out like a snapshot: an integer ``patient_key`` (the row number of
    ``patients``) on every table, events read through the data's own ``events``."""

    patient_key = "patient_key"
    snapshot = "keyed:test"

    def __init__(self, data) -> None:
        self._data = data
        self.patients = data.patients.with_row_index("patient_key")
        self._keys = self.patients.select("patient_id", "patient_key")
        for name in TABLES:
            if name != "patients":
                frame = getattr(data, name, None)
                setattr(self, name, None if frame is None else self._keyed(frame))

    def _keyed(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.join(self._keys, on="patient_id", how="inner", maintain_order="left")

    def events(self, table, codes=None) -> pl.LazyFrame:
        return self._keyed(self._data.events(table, codes))


@settings(max_examples=max(10, settings.default.max_examples // 4))
@given(many_studies_and_data())
def test_issue16_engine_dense_path_equals_frames_and_reference(case):
    """Several studies (random index dates, so different base populations) evaluated on the
    row-number layout give the same tables, counts and code-set row counts as on frames, and
    the reference evaluator's verdicts."""
    items, data = case
    keyed = KeyedData(data)
    dense = evaluate_many(items, keyed, validate=False)
    frames = evaluate_many(items, data, validate=False)
    for study, got, want in zip(items, dense, frames, strict=True):
        assert got.patients.equals(want.patients)
        assert got.counts == want.counts
        assert got.code_rows == want.code_rows
        assert engine_rows(got) == reference_rows(study, data)


def test_issue16_engine_dense_path_is_taken(monkeypatch):
    """The keyed layout above does go through ``attach_dense``, with the base populations."""
    from engine_helpers import INDEX, inc, patient, study

    from criteria_dsl import ir
    from matcher.data.loader import Dataset
    from matcher.engine import compile as compiled

    calls = []
    real = compiled.attach_dense

    def spy(patients, aggregated, key, *, keep=None, **rules):
        calls.append((key, keep is not None))
        return real(patients, aggregated, key, keep=keep, **rules)

    monkeypatch.setattr(compiled, "attach_dense", spy)
    rows = [patient("a"), patient("b", opted_out=True), patient("c")]
    data = Dataset.from_frames(validate=False, patients=pl.DataFrame(rows))
    adult = study((inc("adult", ir.Compare(ir.Age(), ">=", ir.Quantity(18))),))
    (result,) = evaluate_many([adult], KeyedData(data), index_date=INDEX, validate=False)
    assert calls == [("patient_key", True)]
    assert result.patients["patient_id"].to_list() == ["a", "c"]
