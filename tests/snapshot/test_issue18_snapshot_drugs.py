"""Issue 18 (drugs): the dose columns travel through snapshots, and the drug constructs give
the same per-patient results on raw files, a snapshot and a partitioned snapshot."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from criteria_dsl import compile_text
from matcher.engine.evaluate import evaluate
from matcher.snapshot import open_snapshot
from tests.snapshot.conftest import agree_on_raw_snapshot_and_parts

INDEX = dt.date(2026, 6, 30)
DRUG_STUDY = """study "DRUGS"
codes statin = atc C10AA and descendants
codes met    = atc A10BA02
codes thyro  = atc H03AA01
inclusion
  adult:       age at index >= 18
exclusion
  high_statin: has prescription of statin with daily dose >= 40 mg within 1 year before index
  met_dose:    at least 2 prescriptions of met with dose >= 1 g within 1 year before index
  thyroxine:   has prescription thyro with daily dose > 0.06 mg within 1 year before index
  new_statin:  first prescription of statin within 3 years before index
  lasting:     at least 3 prescriptions of met on distinct days spanning at least 2 years ever
  long_statin: has prescription of statin spanning at least 5 years
  stable:      stable dose of statin for 6 months before index
  no_change:   no change of statin within 2 years before index
"""


def test_issue18_snapshot_keeps_the_dose_columns(raw_dir: Path, snap_dir: Path) -> None:
    raw = pl.read_parquet(raw_dir / "prescriptions.parquet")
    snap = open_snapshot(snap_dir).prescriptions.collect()
    assert {"dose", "daily_dose", "dose_unit"} <= set(snap.columns)
    for column in ("dose", "daily_dose"):
        assert snap[column].sort(nulls_last=True).equals(raw[column].sort(nulls_last=True))
    assert (
        snap["dose_unit"]
        .cast(pl.String)
        .value_counts(sort=True)
        .equals(raw["dose_unit"].value_counts(sort=True))
    )


def test_issue18_drug_constructs_agree_on_raw_snapshot_and_parts(
    raw_dir: Path, snap_dir: Path, tmp_path: Path
) -> None:
    study = compile_text(DRUG_STUDY)
    # every rule is true for some patients and false for others (the data exercise them)
    rules = ("high_statin", "met_dose", "thyroxine", "new_statin")
    rules += ("lasting", "long_statin", "stable", "no_change")
    parts = tmp_path / "parts"
    on_raw = agree_on_raw_snapshot_and_parts(study, raw_dir, snap_dir, parts, INDEX, rules)
    assert on_raw["high_statin"].null_count() > 0  # lines without a dose: unknown


def test_issue18_a_snapshot_written_before_the_dose_columns_still_opens(
    raw_dir: Path, tmp_path: Path
) -> None:
    """A snapshot of an earlier version (no dose columns) reads them as null, like a data
    directory without them: the same results as the raw files without them."""
    import shutil

    import pyarrow as pa

    from matcher.snapshot import ingest

    old = tmp_path / "old"
    ingest(raw_dir, old)
    path = old / "prescriptions.arrow"
    with pa.OSFile(str(path), "rb") as source:
        table = pa.ipc.open_file(source).read_all()
    table = table.drop_columns(["dose", "daily_dose", "dose_unit"])
    written = tmp_path / "prescriptions.arrow"
    with pa.OSFile(str(written), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    written.replace(path)
    bare = tmp_path / "bare"
    shutil.copytree(raw_dir, bare)
    rows = pl.read_parquet(bare / "prescriptions.parquet")
    rows.drop("dose", "daily_dose", "dose_unit").write_parquet(bare / "prescriptions.parquet")
    study = compile_text(DRUG_STUDY)
    on_old = evaluate(study, open_snapshot(old), index_date=INDEX).patients
    on_bare = evaluate(study, bare, index_date=INDEX).patients.sort("patient_id")
    assert on_old.equals(on_bare)
    assert on_old["high_statin"].null_count() > 0  # unknown without doses
