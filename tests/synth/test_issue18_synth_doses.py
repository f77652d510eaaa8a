"""Issue 18 (drugs): the synthetic prescriptions carry realistic doses per drug."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matcher.synth import generate
from matcher.synth.catalog import ATC
from matcher.synth.doses import REGIMENS


@pytest.fixture(scope="module")
def prescriptions(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    out = tmp_path_factory.mktemp("synth-doses") / "raw"
    generate(1500, seed=11, out=out)
    return pl.read_parquet(out / "prescriptions.parquet")


def _daily(frame: pl.DataFrame, name: str) -> set[tuple[float, str]]:
    rows = frame.filter((pl.col("code") == ATC[name]) & pl.col("daily_dose").is_not_null())
    return set(rows.select("daily_dose", "dose_unit").unique().iter_rows())


def test_issue18_synth_daily_doses_are_those_of_the_drug_regimens(prescriptions):
    assert _daily(prescriptions, "atorvastatin") <= {(d, "mg") for d in (10.0, 20.0, 40.0, 80.0)}
    assert len(_daily(prescriptions, "atorvastatin")) >= 3
    assert _daily(prescriptions, "metformin") <= {
        (1000.0, "mg"),
        (1700.0, "mg"),
        (2000.0, "mg"),
        (3000.0, "mg"),
    }
    assert {u for _, u in _daily(prescriptions, "levothyroxine")} == {"ug"}
    assert {u for _, u in _daily(prescriptions, "insulin_glargine")} == {"[iU]"}
    weekly = prescriptions.filter(pl.col("code") == ATC["semaglutide"]).drop_nulls("dose")
    assert (weekly["daily_dose"] - weekly["dose"] / 7).abs().max() < 1e-12


def test_issue18_synth_every_dosed_drug_gets_doses_and_some_lines_none(prescriptions):
    coded = prescriptions.filter(pl.col("code").is_in([ATC[n] for n in REGIMENS]))
    missing = coded["daily_dose"].null_count() / coded.height
    assert 0.04 < missing < 0.12
    # dose and unit are null together
    assert coded.filter(pl.col("dose").is_null() != pl.col("dose_unit").is_null()).height == 0
    combination = prescriptions.filter(pl.col("code") == ATC["sacubitril_valsartan"])
    assert combination["dose"].null_count() == combination.height


def test_issue18_synth_doses_are_mostly_stable_within_a_patient_drug(prescriptions):
    per = (
        prescriptions.drop_nulls("daily_dose")
        .group_by("patient_id", "code")
        .agg(pl.col("daily_dose").n_unique().alias("n"))
    )
    stable = (per["n"] == 1).mean()
    assert 0.6 < stable < 0.99  # titration and restarts change some


def test_issue18_synth_doses_are_deterministic_per_seed(tmp_path: Path, prescriptions):
    generate(1500, seed=11, out=tmp_path / "again")
    again = pl.read_parquet(tmp_path / "again" / "prescriptions.parquet")
    assert again.equals(prescriptions)
