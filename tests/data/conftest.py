"""Fixtures for the data-contract tests: a tiny valid data set, written as Parquet or CSV."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

D = dt.date


def valid_frames() -> dict[str, pl.DataFrame]:
    """Four patients (one opted out) and a few events of every kind, all valid."""
    return {
        "patients": pl.DataFrame(
            {
                "patient_id": ["pA", "pB", "pC", "pD"],
                "birth_year": [1950, 1962, 1985, 2001],
                "birth_month": [3, None, 12, 7],
                "sex": ["F", "M", "U", "F"],
                "practice_id": ["pr1", "pr2", "pr3", "pr4"],
                "centre_id": ["c1", "c1", "c2", "c2"],  # no single-practice centre: no warning
                "registered_from": [D(2001, 1, 1), None, D(2010, 5, 5), D(2019, 2, 28)],
                "registered_to": [None, None, D(2020, 1, 1), None],
                "death_date": [None, D(2023, 6, 1), None, None],
                "opted_out": [False, False, False, True],
                "practice_token": ["t1", "t2", "t3", None],
            }
        ),
        "diagnoses": pl.DataFrame(
            {
                "patient_id": ["pA", "pA", "pB", "pC"],
                "date": [D(2015, 1, 1), D(2016, 2, 29), D(2018, 3, 3), D(2012, 12, 31)],
                "system": ["icd10", "icpc2", "icd10", "snomed"],
                "code": ["E11.9", "T90", "I10", "44054006"],
            }
        ),
        "prescriptions": pl.DataFrame(
            {
                "patient_id": ["pA", "pB"],
                "date": [D(2015, 2, 1), D(2018, 4, 1)],
                "system": ["atc", "atc"],
                "code": ["A10BA02", "C09AA05"],
                "duration_days": [90, None],
            }
        ),
        "observations": pl.DataFrame(
            {
                "patient_id": ["pA", "pA", "pC"],
                "date": [D(2015, 1, 1), D(2016, 1, 1), D(2013, 1, 1)],
                "system": ["loinc", "loinc", "loinc"],
                "code": ["4548-4", "4548-4", "39156-5"],
                "value": [7.2, None, 31.5],
                "unit": ["%", None, "kg/m2"],
            }
        ),
        "encounters": pl.DataFrame(
            {
                "patient_id": ["pA", "pB", "pD"],
                "date": [D(2015, 1, 1), D(2018, 3, 3), D(2020, 1, 1)],
                "practice_id": ["pr1", "pr1", "pr3"],
                "kind": ["office", "home", "tele"],
            }
        ),
        "procedures": pl.DataFrame(
            {
                "patient_id": ["pA", "pA"],
                "date": [D(2014, 6, 1), D(2015, 9, 9)],
                "system": ["ccam", "ccam"],
                "code": ["DEQP003", "GLQP012"],
            }
        ),
        "allergies": pl.DataFrame(  # issue 18: a kind not recorded is null
            {
                "patient_id": ["pA", "pA"],
                "date": [D(2014, 6, 1), D(2016, 1, 1)],
                "system": ["atc", "atc"],
                "code": ["J01CA04", "A10BA02"],
                "kind": ["allergy", None],
            }
        ),
    }


def observations_with(**columns: list) -> pl.DataFrame:
    """The valid ``observations`` table with some columns replaced (3 rows)."""
    base = valid_frames()["observations"]
    return base.with_columns(**{k: pl.Series(v, dtype=base[k].dtype) for k, v in columns.items()})


PROBLEM_CASES: dict[str, dict[str, pl.DataFrame]] = {
    "valid": {},
    "blank and null codes": {"observations": observations_with(code=["4548-4", " ", None])},
    "null system": {"observations": observations_with(system=[None, "loinc", "loinc"])},
    "blank units merge with nulls": {"observations": observations_with(unit=["", None, "  "])},
    "NaN value": {"observations": observations_with(value=[float("nan"), 1.0, 2.0])},
    "orphan and null pseudonyms": {
        "observations": observations_with(patient_id=["zz", None, "pA"])
    },
    "blank pseudonym": {"observations": observations_with(patient_id=["  ", "pA", "pA"])},
}
"""Tables replacing valid ones, each with one kind of problem (the ``valid`` case: none), for
the tests comparing two ways of computing the checks."""


def write_dataset(directory: Path, frames: dict[str, pl.DataFrame], fmt: str = "parquet") -> Path:
    """Write one file per table (``fmt``: parquet or csv); return ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        if fmt == "csv":
            frame.write_csv(directory / f"{name}.csv")
        else:
            frame.write_parquet(directory / f"{name}.parquet")
    return directory


@pytest.fixture
def frames() -> dict[str, pl.DataFrame]:
    return valid_frames()


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(frames, fmt="parquet", name="data")`` writes a data set under ``tmp_path``."""

    def _write(frames: dict[str, pl.DataFrame], fmt: str = "parquet", name: str = "data") -> Path:
        return write_dataset(tmp_path / name, frames, fmt)

    return _write
