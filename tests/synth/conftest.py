"""A small synthetic population shared by the synth tests (generated once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from matcher.synth import Summary, generate

N_PATIENTS = 12_000
SEED = 20240601


@dataclass
class Population:
    dir: Path
    keys: Path
    local_ids: Path
    summary: Summary
    patients: pl.DataFrame
    diagnoses: pl.DataFrame
    prescriptions: pl.DataFrame
    observations: pl.DataFrame
    encounters: pl.DataFrame
    procedures: pl.DataFrame  # issue 18
    allergies: pl.DataFrame  # issue 18


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Population:
    root = tmp_path_factory.mktemp("synth")
    out, keys, local_ids = root / "pop", root / "keys.json", root / "local.parquet"
    summary = generate(
        N_PATIENTS, SEED, out, chunk_size=5_000, keys_out=keys, local_ids_out=local_ids
    )
    tables = {n: pl.read_parquet(out / f"{n}.parquet") for n in summary.rows}
    return Population(out, keys, local_ids, summary, **tables)
