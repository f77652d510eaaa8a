"""``p4dp data ingest`` / ``p4dp data verify`` and ``open_data``."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.data.loader import Dataset, load_dataset
from matcher.data.open import open_data
from matcher.errors import DataError
from matcher.snapshot import SnapshotDataset
from matcher.snapshot.manifest import read_manifest


def test_cli_ingest_then_verify(raw_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "snap"
    runner = CliRunner()
    result = runner.invoke(main, ["data", "ingest", str(raw_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    snapshot_id = read_manifest(out).data_snapshot
    assert f"Wrote snapshot {snapshot_id}" in result.output
    assert "patients" in result.output and "300 rows" in result.output
    again = runner.invoke(main, ["data", "ingest", str(raw_dir), "--out", str(out)])
    assert again.exit_code == 1
    assert again.output.startswith("Error: ") and "--overwrite" in again.output
    assert "Traceback" not in again.output
    replaced = runner.invoke(
        main, ["data", "ingest", str(raw_dir), "--out", str(out), "--overwrite"]
    )
    assert replaced.exit_code == 0, replaced.output
    verified = runner.invoke(main, ["data", "verify", str(out)])
    assert verified.exit_code == 0 and "intact" in verified.output
    (out / "manifest.json").write_text("[]")
    broken = runner.invoke(main, ["data", "verify", str(out)])
    assert broken.exit_code == 1 and "manifest.json" in broken.output


def test_cli_help_has_examples() -> None:
    for command in ("ingest", "verify"):
        result = CliRunner().invoke(main, ["data", command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output


def test_open_data_on_raw_snapshot_and_dataset(raw_dir: Path, snap_dir: Path) -> None:
    raw = open_data(raw_dir)
    assert type(raw) is Dataset and raw.patient_key == "patient_id" and raw.snapshot_id is None
    snap = open_data(snap_dir)
    assert isinstance(snap, SnapshotDataset) and snap.patient_key == "patient_key"
    assert snap.snapshot_id == read_manifest(snap_dir).data_snapshot
    assert open_data(snap) is snap and open_data(raw) is raw
    frames = {"patients": load_dataset(raw_dir).patients.collect()}
    assert open_data(frames).patients.collect().height == 300


def test_open_data_can_ingest_on_the_fly(raw_dir: Path, snap_dir: Path) -> None:
    snap = open_data(raw_dir, ingest=True, progress=False)
    assert isinstance(snap, SnapshotDataset)
    assert snap.snapshot_id == read_manifest(snap_dir).data_snapshot
    codes = {"icd10": ["E11.9"]}
    assert snap.events("diagnoses", codes).collect().height == (
        load_dataset(raw_dir).events("diagnoses", codes).collect().height
    )


def test_open_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such data directory"):
        open_data(tmp_path / "absent")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        open_data(tmp_path / "file.txt")
    with pytest.raises(DataError, match="missing file"):
        open_data(tmp_path)
    assert pl.__version__
