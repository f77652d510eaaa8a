"""Issue 18 (records): the optional allergies table (with its nullable kind) travels through
snapshots and partitioned snapshots, giving the same per-patient results as the raw files;
a data directory without it stays without it (every allergy rule unknown)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl

from criteria_dsl import compile_text
from matcher.engine.evaluate import evaluate
from matcher.snapshot import ingest, open_snapshot
from matcher.snapshot.partition import ingest_partitioned

INDEX = dt.date(2026, 6, 30)
STUDY = """study "ALLERGIES"
codes penicillins = atc J01C and descendants
codes peanut = snomed 762952008
inclusion
  adult:        age at index >= 18
exclusion
  penicillin:   has allergy to penicillins
  intolerant:   has allergy to atc A10BA02 of kind intolerance
  true_allergy: has allergy to penicillins of kind allergy within 5 years before index
  peanut_two:   at least 2 allergies to peanut
"""
SUBSTANCES = (("atc", "J01CA04"), ("atc", "j01cr02"), ("atc", "A10BA02"), ("snomed", "762952008"))
KINDS = ("allergy", "intolerance", None)


def _with_allergies(raw_dir: Path, out: Path) -> Path:
    """A copy of the raw data with an allergies table of our own (replacing the synthetic
    one): one to three records for every fifth patient, cycling through substances, kinds
    (null included) and dates."""
    shutil.copytree(raw_dir, out)
    ids = pl.read_parquet(raw_dir / "patients.parquet")["patient_id"].to_list()[::5]
    rows = []
    for n, pid in enumerate(ids):
        for k in range(1 + n % 3):
            system, code = SUBSTANCES[(n + k) % len(SUBSTANCES)]
            day = INDEX - dt.timedelta(days=200 * (n % 20) + 30 * k)
            rows.append((pid, day, system, code, KINDS[(n + 2 * k) % len(KINDS)]))
    schema = {"patient_id": pl.String, "date": pl.Date, "system": pl.String, "code": pl.String}
    frame = pl.DataFrame(rows, schema=schema | {"kind": pl.String}, orient="row")
    frame.write_parquet(out / "allergies.parquet")
    return out


def test_issue18_allergies_agree_on_raw_snapshot_and_parts(raw_dir: Path, tmp_path: Path) -> None:
    raw = _with_allergies(raw_dir, tmp_path / "raw")
    study = compile_text(STUDY)
    on_raw = evaluate(study, raw, index_date=INDEX).patients.sort("patient_id")
    assert set(on_raw["penicillin"].to_list()) == {True, False}  # both kinds: always known
    for rule in ("intolerant", "true_allergy"):  # a kind asked, a record without one: unknown
        assert {True, False, None} <= set(on_raw[rule].to_list()), rule
    snap = tmp_path / "snap"
    ingest(raw, snap)
    opened = open_snapshot(snap)
    assert opened.allergies is not None
    assert opened.allergies.collect()["kind"].null_count() > 0  # unrecorded kinds kept
    assert evaluate(study, opened, index_date=INDEX).patients.equals(on_raw)
    parts = tmp_path / "parts"
    ingest_partitioned(raw, parts, partitions=3)
    assert evaluate(study, parts, index_date=INDEX).patients.equals(on_raw)


def test_issue18_allergies_not_provided_stay_not_provided_in_a_snapshot(
    raw_dir: Path, tmp_path: Path
) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(raw_dir, raw)
    (raw / "allergies.parquet").unlink()  # a data directory of before the allergies table
    study = compile_text(STUDY)
    on_raw = evaluate(study, raw, index_date=INDEX).patients.sort("patient_id")
    assert set(on_raw["penicillin"].to_list()) == {None}
    ingest(raw, tmp_path / "snap")
    opened = open_snapshot(tmp_path / "snap")
    assert "allergies" in opened.not_provided()
    assert evaluate(study, opened, index_date=INDEX).patients.equals(on_raw)
