"""Fixtures for the snapshot tests: a small synthetic population and its snapshot."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matcher.data.loader import Dataset, load_dataset
from matcher.snapshot import ingest
from matcher.synth import generate


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-patient synthetic population (Parquet), shared read-only by the tests."""
    out = tmp_path_factory.mktemp("snapshot-raw") / "raw"
    generate(300, seed=5, out=out)
    return out


@pytest.fixture(scope="session")
def raw(raw_dir: Path) -> Dataset:
    return load_dataset(raw_dir)


@pytest.fixture(scope="session")
def snap_dir(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("snapshot-out") / "snap"
    ingest(raw_dir, out)
    return out


def respelled_icd10() -> pl.Expr:
    """Each ICD-10 code undotted, lower case or padded in turn (other systems unchanged)."""
    turn = pl.int_range(pl.len()) % 3
    code = pl.col("code")
    spelled = (
        pl.when(turn == 0)
        .then(code.str.replace(".", "", literal=True))
        .when(turn == 1)
        .then(code.str.to_lowercase())
        .otherwise(pl.lit(" ") + code)
    )
    return pl.when(pl.col("system") == "icd10").then(spelled).otherwise(code).alias("code")


def as_strings(frame: pl.DataFrame) -> pl.DataFrame:
    """Enum and categorical columns as strings (to compare with raw data)."""
    return frame.with_columns(
        pl.col(c).cast(pl.String)
        for c, t in frame.schema.items()
        if isinstance(t, pl.Enum | pl.Categorical)
    )


def to_raw_form(frame: pl.DataFrame, patients: pl.DataFrame) -> pl.DataFrame:
    """Snapshot event rows with ``patient_key`` mapped back to ``patient_id``."""
    keys = patients.select("patient_id", "patient_key")
    out = as_strings(frame).join(keys, on="patient_key", how="left").drop("patient_key")
    return out.select("patient_id", *[c for c in out.columns if c != "patient_id"])


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in a fixed order so frames from different layouts compare equal."""
    return frame.sort(frame.columns, nulls_last=True)


def agree_on_raw_snapshot_and_parts(
    study: object, raw_dir: Path, snap_dir: Path, parts_dir: Path, index: object, rules: tuple
) -> pl.DataFrame:
    """Evaluate ``study`` on the raw files, their snapshot and a 3-part partitioned snapshot
    written to ``parts_dir``; assert the three give the same per-patient results and that each
    of ``rules`` is true for some patients and false for others (the data exercise it).
    Returns the results on the raw files."""
    from matcher.engine.evaluate import evaluate
    from matcher.snapshot import open_snapshot
    from matcher.snapshot.partition import ingest_partitioned

    on_raw = evaluate(study, raw_dir, index_date=index).patients.sort("patient_id")
    on_snap = evaluate(study, open_snapshot(snap_dir), index_date=index).patients
    assert on_snap.equals(on_raw)
    for rule in rules:
        assert {True, False} <= set(on_raw[rule].to_list()), rule
    ingest_partitioned(raw_dir, parts_dir, partitions=3)
    assert evaluate(study, parts_dir, index_date=index).patients.equals(on_raw)
    return on_raw
