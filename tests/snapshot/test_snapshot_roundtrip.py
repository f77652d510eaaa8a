"""A snapshot holds exactly the raw data: same rows, re-keyed, encoded and sorted."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matcher.data.loader import Dataset
from matcher.data.schema import EVENT_TABLES, TABLES
from matcher.snapshot import SnapshotDataset, open_snapshot
from matcher.snapshot.encode import sort_order
from tests.snapshot.conftest import as_strings, canonical, to_raw_form


@pytest.fixture(scope="module")
def snap(snap_dir: Path) -> SnapshotDataset:
    return open_snapshot(snap_dir)


def test_patients_round_trip_with_dense_keys(snap: SnapshotDataset, raw: Dataset) -> None:
    patients = snap.patients.collect()
    assert patients["patient_key"].dtype == pl.UInt32
    assert patients["patient_key"].to_list() == list(range(patients.height))
    assert patients["patient_id"].is_sorted()
    back = as_strings(patients.drop("patient_key"))
    expected = raw.patients.collect()
    assert back.columns == expected.columns
    assert canonical(back).equals(canonical(expected))


@pytest.mark.parametrize("table", EVENT_TABLES)
def test_event_tables_round_trip(snap: SnapshotDataset, raw: Dataset, table: str) -> None:
    frame = snap.table(table).collect()
    assert "patient_id" not in frame.columns
    assert frame["patient_key"].dtype == pl.UInt32
    back = to_raw_form(frame, snap.patients.collect())
    expected = raw.table(table).collect()
    assert expected.height > 0
    assert back.columns == list(TABLES[table].required_names())
    assert canonical(back).equals(canonical(expected))


@pytest.mark.parametrize("table", EVENT_TABLES)
def test_event_tables_are_sorted_and_encoded(snap: SnapshotDataset, table: str) -> None:
    frame = snap.table(table).collect()
    order = list(sort_order(table))
    assert frame.select(order).equals(frame.select(order).sort(order))
    for column in ("system", "code", "unit", "kind", "practice_id"):
        if column in frame.columns:
            dtype = frame.schema[column]
            assert isinstance(dtype, pl.Enum)
            assert list(dtype.categories) == sorted(dtype.categories)


def test_manifest_counts_and_index(snap: SnapshotDataset, raw: Dataset) -> None:
    manifest = snap.manifest
    assert manifest is not None
    assert snap.snapshot_id == manifest.data_snapshot == "snap:" + manifest.content_hash[:16]
    for name in TABLES:
        assert manifest.tables[name].rows == raw.table(name).collect().height
    diagnoses = raw.diagnoses.collect()
    per_system = diagnoses.group_by("system").len()
    assert manifest.tables["diagnoses"].systems == dict(per_system.iter_rows())
    assert manifest.tables["diagnoses"].first_date == diagnoses["date"].min().isoformat()
    index = snap.indexes["diagnoses"]
    assert len(index) == diagnoses.select("system", "code").n_unique()
    assert index.total_rows() == diagnoses.height


def test_lazy_scan_mode_reads_the_same(snap_dir: Path, snap: SnapshotDataset) -> None:
    lazy = open_snapshot(snap_dir, in_memory=False)
    for name in TABLES:
        assert lazy.table(name).collect().equals(snap.table(name).collect())
    wanted = {"icd10": ["E11.9", "I10"]}
    got = canonical(lazy.events("diagnoses", wanted).collect())
    assert got.equals(canonical(snap.events("diagnoses", wanted).collect()))


def test_frames_without_events_ingest(tmp_path: Path) -> None:
    from matcher.snapshot import ingest

    patients = pl.DataFrame(
        {
            "patient_id": ["b", "a"],
            "birth_year": [1950, 1960],
            "birth_month": [None, 2],
            "sex": ["F", "U"],
            "practice_id": ["p1", "p2"],
            "centre_id": ["c1", "c1"],
            "registered_from": [None, None],
            "registered_to": [None, None],
            "death_date": [None, None],
        }
    )
    manifest = ingest(Dataset.from_frames(patients=patients), tmp_path / "snap")
    assert manifest.source == "in-memory frames"
    ds = open_snapshot(tmp_path / "snap")
    assert ds.patients.collect()["patient_id"].to_list() == ["a", "b"]
    assert ds.events("diagnoses", {"icd10": ["E11"]}).collect().height == 0
    assert ds.diagnoses.collect().height == 0
