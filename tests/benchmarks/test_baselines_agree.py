"""The hand-written baselines of ``benchmarks/baselines`` agree with the engine, patient by patient.

The benchmark aborts when they disagree at national scale; this test catches a drift on a small
synthetic population first: every baseline, as DuckDB SQL over the raw files, over the
snapshot's integer layout (memory-mapped and copied into DuckDB) and as plain Polars, gives the
engine's value for every rule and the verdict of every patient.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import polars as pl
import pytest

from benchmarks.baselines import modules
from benchmarks.check import differences
from benchmarks.run import study_id, study_index
from benchmarks.tasks import make_task, normalised
from matcher.snapshot import ingest
from matcher.synth import generate

ROOT = Path(__file__).resolve().parents[2]
SYNTH_PATIENTS = 4000
DEFAULT_INDEX = "2026-01-01"  # the benchmark's index date for studies that have none
CONFIGURATIONS = [
    ("duckdb", "raw"),
    ("polars", "raw"),
    ("duckdb", "snapshot"),
    ("duckdb", "snapshot_warm"),
]


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A synthetic population (raw Parquet files) and its snapshot."""
    root = tmp_path_factory.mktemp("baselines")
    raw, snap = root / "raw", root / "snap"
    generate(SYNTH_PATIENTS, seed=11, out=raw)
    ingest(raw, snap)
    return raw, snap


def example_for(module: ModuleType) -> Path:
    """The example criteria file whose study the baseline module writes by hand."""
    found = [
        p
        for p in sorted((ROOT / "examples").glob("*.p4dp"))
        if study_id(str(p)) in module.STUDY_IDS
    ]
    assert len(found) == 1, f"{module.__name__}: {len(found)} examples match {module.STUDY_IDS}"
    return found[0]


def run(kind: str, source: str, data: Path, study: Path) -> pl.DataFrame:
    spec = {
        "kind": kind,
        "source": source,
        "data": str(data),
        "study": str(study),
        "index_date": study_index(str(study), DEFAULT_INDEX),
        "threads": 2,
    }
    task = make_task(spec)
    task.prepare()
    return normalised(task, task.run())


def test_every_example_study_has_a_baseline() -> None:
    written = {sid for m in modules() for sid in m.STUDY_IDS}
    examples = {study_id(str(p)) for p in (ROOT / "examples").glob("*.p4dp")}
    assert examples <= written, f"no hand-written baseline for {sorted(examples - written)}"


@pytest.mark.parametrize("module", modules(), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_baseline_agrees_with_engine(module: ModuleType, population: tuple[Path, Path]) -> None:
    raw, snap = population
    study = example_for(module)
    engine = run("engine", "raw", raw, study)
    assert engine.height > SYNTH_PATIENTS // 2  # the base population, not an empty frame
    for kind, source in CONFIGURATIONS:
        frame = run(kind, source, snap if source.startswith("snapshot") else raw, study)
        assert differences(engine, frame) == [], f"{kind} over {source}"
