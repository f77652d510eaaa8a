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
