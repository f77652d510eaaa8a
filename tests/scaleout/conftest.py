"""Fixtures of the scale-out tests: one small population, its plain and partitioned snapshots.

The hypothesis strategies and helpers of the engine tests are imported from ``tests/engine``.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest

from criteria_dsl import compile_file, ir
from matcher.snapshot import ingest
from matcher.snapshot.partition import ingest_partitioned
from matcher.synth import generate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
PATIENTS = 600
PART_COUNTS = (1, 2, 7)


@functools.cache
def examples() -> tuple[ir.Study, ...]:
    """Every example study, compiled once per session."""
    return tuple(compile_file(p) for p in sorted(EXAMPLES_DIR.glob("*.p4dp")))


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scaleout") / "raw"
    generate(PATIENTS, seed=17, out=out)
    return out


@pytest.fixture(scope="session")
def plain_snapshot(raw_dir: Path) -> Path:
    out = raw_dir.parent / "snap"
    ingest(raw_dir, out)
    return out


@pytest.fixture(scope="session")
def partitioned(raw_dir: Path) -> dict[int, Path]:
    """Partitioned snapshots of the population, by number of parts (1, 2 and 7)."""
    out = {}
    for n in PART_COUNTS:
        out[n] = raw_dir.parent / f"parts-{n}"
        ingest_partitioned(raw_dir, out[n], partitions=n)
    return out
