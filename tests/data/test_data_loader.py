"""Loading data directories and in-memory frames into contract-typed lazy frames."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from matcher.data.loader import Dataset, load_dataset
from matcher.data.schema import TABLES
from matcher.errors import DataError


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_valid_dataset_loads_with_contract_types(write, frames, fmt):
    path = write(frames, fmt)
    ds = load_dataset(path)
    assert ds.path == path
    for name, table in TABLES.items():
        frame = ds.table(name)
        assert isinstance(frame, pl.LazyFrame)
        assert dict(frame.collect_schema()) == table.schema()
        got = frame.collect()
        assert got.height == frames[name].height
    patients = ds.patients.collect()
    assert patients["registered_from"].to_list() == frames["patients"]["registered_from"].to_list()
    assert patients["opted_out"].to_list() == [False, False, False, True]
    assert ds.observations.collect()["value"].to_list() == [7.2, None, 31.5]


def test_csv_and_parquet_load_to_identical_frames(write, frames):
    a = load_dataset(write(frames, "parquet", name="pq"))
    b = load_dataset(write(frames, "csv", name="csv"))
    for name in TABLES:
        assert a.table(name).collect().equals(b.table(name).collect())


def test_optional_columns_absent_get_defaults_and_extra_columns_are_ignored(write, frames):
    frames["patients"] = frames["patients"].drop("opted_out", "practice_token")
    frames["prescriptions"] = frames["prescriptions"].drop("duration_days")
    frames["observations"] = frames["observations"].drop("value", "unit")
    frames["diagnoses"] = frames["diagnoses"].with_columns(pl.lit("x").alias("free_text"))
    ds = load_dataset(write(frames, "csv"))
    patients = ds.patients.collect()
    assert patients["opted_out"].to_list() == [False] * 4
    assert patients["practice_token"].null_count() == 4
    assert ds.prescriptions.collect()["duration_days"].null_count() == 2
    obs = ds.observations.collect()
    assert obs["value"].null_count() == 3 and obs["unit"].null_count() == 3
    assert ds.diagnoses.collect_schema().names() == ["patient_id", "date", "system", "code"]


def test_directory_of_parquet_parts_is_one_table(tmp_path, write, frames):
    diagnoses = frames.pop("diagnoses")
    path = write(frames)
    (path / "diagnoses").mkdir()
    diagnoses.head(2).write_parquet(path / "diagnoses" / "part-0.parquet")
    diagnoses.tail(2).write_parquet(path / "diagnoses" / "part-1.parquet")
    ds = load_dataset(path)
    assert ds.diagnoses.collect().equals(diagnoses.with_columns(pl.col("date").cast(pl.Date)))


def test_from_frames_fills_missing_event_tables_with_empty_contract_frames(frames):
    ds = Dataset.from_frames(patients=frames["patients"], diagnoses=frames["diagnoses"].lazy())
    assert ds.path is None
    assert ds.diagnoses.collect().height == 4
    for name in ("prescriptions", "observations", "encounters"):
        empty = ds.table(name).collect()
        assert empty.height == 0
        assert dict(empty.schema) == TABLES[name].schema()


def test_from_frames_converts_iso_strings_and_wide_integers(frames):
    patients = frames["patients"].with_columns(
        pl.col("registered_from").cast(pl.String), pl.col("birth_year").cast(pl.Int64)
    )
    ds = Dataset.from_frames(patients=patients)
    got = ds.patients.collect()
    assert got.schema["registered_from"] == pl.Date
    assert got.schema["birth_year"] == pl.Int32
    assert got["registered_from"][0] == dt.date(2001, 1, 1)


def test_from_frames_validates_by_default(frames):
    orphan = frames["diagnoses"].with_columns(pl.lit("nobody").alias("patient_id"))
    with pytest.raises(DataError, match="4 rows whose patient_id is not in patients"):
        Dataset.from_frames(patients=frames["patients"], diagnoses=orphan)
    ds = Dataset.from_frames(patients=frames["patients"], diagnoses=orphan, validate=False)
    assert ds.diagnoses.collect().height == 4


def test_load_refuses_every_problem_at_once(write, frames):
    frames["patients"] = frames["patients"].with_columns(pl.lit("Z").alias("sex"))
    path = write(frames)
    (path / "encounters.parquet").unlink()
    with pytest.raises(DataError) as info:
        load_dataset(path)
    text = str(info.value)
    assert "encounters: missing file" in text
    assert "column 'sex': 4 rows with a sex outside F, M, U (rows 1, 2, 3, 4)" in text


def test_load_without_validation_still_checks_columns(write, frames):
    frames["patients"] = frames["patients"].drop("sex")
    with pytest.raises(DataError, match=r"patients.parquet: column 'sex': missing column"):
        load_dataset(write(frames), validate=False)


def test_table_lookup_refuses_names_outside_the_contract(frames):
    ds = Dataset.from_frames(patients=frames["patients"])
    assert ds.table("patients") is ds.patients
    with pytest.raises(KeyError):
        ds.table("path")
