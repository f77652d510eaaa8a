"""The engine gives the same per-patient results on a snapshot as on the raw files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from unittest.mock import patch

import pytest

from criteria_dsl import compile_file
from matcher.engine.evaluate import evaluate, evaluate_many
from matcher.snapshot import open_snapshot

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.p4dp"))
INDEX = dt.date(2026, 6, 30)


@pytest.mark.parametrize("path", EXAMPLES[:3], ids=lambda p: p.stem)
def test_examples_agree_on_raw_and_snapshot(path: Path, raw_dir: Path, snap_dir: Path) -> None:
    study = compile_file(path)
    on_raw = evaluate(study, raw_dir, index_date=INDEX)
    on_snap = evaluate(study, open_snapshot(snap_dir), index_date=INDEX)
    assert on_snap.data_snapshot == open_snapshot(snap_dir).snapshot_id
    assert on_raw.patients.height > 0
    assert on_snap.patients.schema == on_raw.patients.schema
    # results follow each data set's patient order (a snapshot's: by pseudonym)
    assert on_snap.patients["patient_id"].is_sorted()
    assert on_snap.patients.equals(on_raw.patients.sort("patient_id"))
    by_path = evaluate(study, snap_dir, index_date=INDEX)
    assert by_path.patients.equals(on_snap.patients)
    assert by_path.data_snapshot == on_snap.data_snapshot


def test_many_studies_on_a_snapshot(raw_dir: Path, snap_dir: Path) -> None:
    studies = [compile_file(p) for p in EXAMPLES]
    snap = open_snapshot(snap_dir)
    together = evaluate_many(studies, snap, index_date=INDEX)
    on_raw = evaluate_many(studies, raw_dir, index_date=INDEX)
    for a, b in zip(together, on_raw, strict=True):
        assert a.patients.equals(b.patients.sort("patient_id"))
        assert a.counts == b.counts


@pytest.mark.parametrize("up_to", [1_000, 0], ids=["one-stage", "two-stages"])
def test_issue16_item3_fifty_studies_on_a_snapshot_equal_raw_one_by_one(
    up_to: int, raw_dir: Path, snap_dir: Path
) -> None:
    """The fifty benchmark studies (variants of the examples: many windows of the same lab in
    one pass of the snapshot) give, together on the snapshot, each study's own raw result."""
    from benchmarks.variants import fifty
    from matcher.engine import plan as plan_module

    studies = fifty([compile_file(p) for p in EXAMPLES], total=18)
    snap = open_snapshot(snap_dir)
    with patch.object(plan_module, "ONE_STAGE_UP_TO", up_to):
        together = evaluate_many(studies, snap, index_date=INDEX)
    alone = [evaluate(s, raw_dir, index_date=INDEX) for s in studies]
    for a, b in zip(together, alone, strict=True):
        assert a.patients.equals(b.patients.sort("patient_id"))
        assert a.counts == b.counts
