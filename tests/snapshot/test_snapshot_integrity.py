"""Content hash, atomic writes, refusing to overwrite, and clear errors on damaged snapshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from matcher.data.loader import load_dataset
from matcher.data.schema import TABLES
from matcher.errors import DataError, OutputExistsError
from matcher.snapshot import ingest, open_snapshot, verify_snapshot
from matcher.snapshot.manifest import read_manifest


@pytest.fixture
def snap_copy(snap_dir: Path, tmp_path: Path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(snap_dir, out)
    return out


def _rewrite(raw_dir: Path, out: Path, change: dict[str, pl.DataFrame] | None = None) -> Path:
    """A copy of the raw data as shuffled Parquet files, with some tables replaced."""
    out.mkdir()
    data = load_dataset(raw_dir)
    for name in TABLES:
        frame = (change or {}).get(name)
        if frame is None:
            frame = data.table(name).collect().sample(fraction=1.0, shuffle=True, seed=9)
        frame.write_parquet(out / f"{name}.parquet")
    return out


def test_hash_is_deterministic_and_ignores_row_order(
    raw_dir: Path, snap_dir: Path, tmp_path: Path
) -> None:
    first = read_manifest(snap_dir)
    again = ingest(raw_dir, tmp_path / "again")
    assert again.content_hash == first.content_hash
    assert again.files == first.files
    shuffled = ingest(_rewrite(raw_dir, tmp_path / "shuffled"), tmp_path / "snap2")
    assert shuffled.content_hash == first.content_hash


def test_hash_changes_when_the_data_changes(raw_dir: Path, snap_dir: Path, tmp_path: Path) -> None:
    diagnoses = load_dataset(raw_dir).diagnoses.collect()
    changed = diagnoses.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("date") + pl.duration(days=1))
        .otherwise(pl.col("date"))
        .alias("date")
    )
    source = _rewrite(raw_dir, tmp_path / "changed", {"diagnoses": changed})
    manifest = ingest(source, tmp_path / "snap")
    before = read_manifest(snap_dir)
    assert manifest.content_hash != before.content_hash
    differing = {n for n in manifest.files if manifest.files[n] != before.files[n]}
    assert differing == {"diagnoses.arrow"}


def test_refuses_to_overwrite_without_flag(raw_dir: Path, snap_copy: Path) -> None:
    before = read_manifest(snap_copy)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        ingest(raw_dir, snap_copy)
    manifest = ingest(raw_dir, snap_copy, overwrite=True)
    assert manifest.content_hash == before.content_hash
    assert sorted(p.name for p in snap_copy.parent.iterdir()) == ["copy"]


def test_never_replaces_a_directory_that_is_not_a_snapshot(raw_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "precious"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match=r"no manifest\.json"):
        ingest(raw_dir, other, overwrite=True)
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(DataError, match="inside the data directory"):
        ingest(raw_dir, raw_dir / "snap")


def test_invalid_data_is_refused_and_nothing_is_written(raw_dir: Path, tmp_path: Path) -> None:
    patients = load_dataset(raw_dir).patients.collect()
    bad = patients.with_columns(pl.lit("X").alias("sex"))
    source = _rewrite(raw_dir, tmp_path / "bad", {"patients": bad})
    with pytest.raises(DataError, match="sex outside"):
        ingest(source, tmp_path / "out" / "snap")
    assert not (tmp_path / "out").exists()
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError, match="sex outside"):
        ingest(source, tmp_path / "out" / "snap")
    assert list((tmp_path / "out").iterdir()) == []


def test_unvalidated_orphan_rows_are_an_error_not_dropped(raw_dir: Path, tmp_path: Path) -> None:
    diagnoses = load_dataset(raw_dir).diagnoses.collect()
    orphan = diagnoses.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit("nobody"))
        .otherwise(pl.col("patient_id"))
        .alias("patient_id")
    )
    source = _rewrite(raw_dir, tmp_path / "orph", {"diagnoses": orphan})
    with pytest.raises(DataError, match="3 rows whose patient_id is not in patients"):
        ingest(source, tmp_path / "snap", validate=False)


def test_corrupt_manifest_is_a_clear_error(snap_copy: Path) -> None:
    (snap_copy / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match=r"manifest\.json: unreadable snapshot manifest"):
        open_snapshot(snap_copy)


def test_other_format_version_is_refused(snap_copy: Path) -> None:
    body = json.loads((snap_copy / "manifest.json").read_text())
    body["format_version"] = 99
    (snap_copy / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(DataError, match="format version 99"):
        open_snapshot(snap_copy)


def test_missing_or_truncated_table_file_is_named(snap_copy: Path) -> None:
    data = (snap_copy / "observations.arrow").read_bytes()
    (snap_copy / "observations.arrow").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"observations\.arrow: unreadable snapshot file"):
        open_snapshot(snap_copy)
    (snap_copy / "observations.arrow").unlink()
    with pytest.raises(DataError, match=r"observations\.arrow: snapshot file missing"):
        open_snapshot(snap_copy)


def test_verify_detects_a_changed_byte(snap_copy: Path) -> None:
    verify_snapshot(snap_copy)
    path = snap_copy / "prescriptions.arrow"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"prescriptions\.arrow: content differs"):
        open_snapshot(snap_copy).verify()
