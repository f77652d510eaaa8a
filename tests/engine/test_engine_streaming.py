"""A streaming run over data larger than the memory the evaluating process may use.

A child process limits its own address space (``RLIMIT_AS``); under that limit merely reading
the observations table into memory fails, while ``evaluate(..., streaming=True)`` over the
same Parquet directory succeeds.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from matcher.data.loader import empty_frame

LIMIT_MB = 1500
N_ROWS = 8_000_000
N_PATIENTS = 20_000

CHILD = textwrap.dedent(
    """
    import resource, sys
    limit = int(sys.argv[2]) * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import datetime as dt
    import types
    import polars as pl
    if sys.argv[3] == "eager":
        frame = pl.read_parquet(sys.argv[1] + "/observations.parquet")
        print("loaded", frame.height)
        sys.exit(0)
    from criteria_dsl import ir
    from matcher.engine.evaluate import evaluate
    from terminology.model import CodePattern, CodeSetSpec, ResolvedCode, ResolvedCodeSet
    resolved = ResolvedCodeSet((ResolvedCode("loinc", "4548-4", "t", "x"),), (("loinc", "t"),))
    hba1c = ir.CodeSetDef("hba1c", CodeSetSpec((CodePattern("loinc", "4548-4"),)), resolved)
    events = ir.EventSet("observations", ir.CodeSetRef("hba1c"), ir.Window.up_to_index())
    top = ir.ValueAggregate(events, "max", "mmol/mol")
    high = ir.Compare(top, ">", ir.Quantity(80, "mmol/mol"))
    many = ir.Compare(ir.Count(events), ">=", ir.Quantity(3))
    study = ir.Study("big", 1, None, dt.date(2025, 1, 1), (), (hba1c,), (
        ir.Rule("high", "inclusion", high), ir.Rule("many", "inclusion", many)), ())
    # plain lazy scans: the engine's own streaming behaviour (see docs/engine.md about the
    # loader's per-row string cleaning, which a snapshot will remove)
    names = ("patients", "diagnoses", "prescriptions", "observations", "encounters")
    scans = {n: pl.scan_parquet(f"{sys.argv[1]}/{n}.parquet") for n in names}
    data = types.SimpleNamespace(path=None, snapshot="test", **scans)
    result = evaluate(study, data, streaming=True, validate=False)
    print("counts", result.counts.base, result.counts.eligible)
    """
)


def _write_dataset(path) -> None:
    i = pl.col("i")
    rows = pl.LazyFrame({"i": pl.int_range(0, N_ROWS, eager=True)}).select(
        patient_id=pl.format("p{}", (i * 7919) % N_PATIENTS),
        date=pl.lit(dt.date(2015, 1, 1)) + pl.duration(days=(i * 31) % 3650),
        system=pl.lit("loinc"),
        code=pl.when(i % 10 == 0).then(pl.lit("4548-4")).otherwise(pl.format("{}-1", i % 97)),
        value=(i % 120).cast(pl.Float64) / 10,
        unit=pl.lit("%"),
    )
    rows.sink_parquet(path / "observations.parquet", row_group_size=250_000)
    patients = pl.DataFrame({"patient_id": [f"p{k}" for k in range(N_PATIENTS)]}).with_columns(
        birth_year=pl.lit(1960, pl.Int32),
        birth_month=pl.lit(None, pl.Int8),
        sex=pl.lit("F"),
        practice_id=pl.lit("pr"),
        centre_id=pl.lit("c"),
        registered_from=pl.lit(None, pl.Date),
        registered_to=pl.lit(None, pl.Date),
        death_date=pl.lit(None, pl.Date),
        opted_out=pl.lit(False),
        practice_token=pl.lit(None, pl.String),
    )
    patients.write_parquet(path / "patients.parquet")
    for name in ("diagnoses", "prescriptions", "encounters"):
        empty_frame(name).write_parquet(path / f"{name}.parquet")


def _child(path, mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(LIMIT_MB), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS is enforced only on Linux")
def test_streaming_evaluate_under_a_memory_limit(tmp_path):
    _write_dataset(tmp_path)
    eager = _child(tmp_path, "eager")
    assert eager.returncode != 0, "the limit should be too small to load the table eagerly"
    streamed = _child(tmp_path, "stream")
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    # every patient of the synthetic table is in the base population
    counts = streamed.stdout.split("counts")[1].split()
    assert int(counts[0]) == N_PATIENTS
    # cross-check the eligible count with a direct (unlimited) Polars query
    obs = pl.scan_parquet(tmp_path / "observations.parquet").filter(pl.col("code") == "4548-4")
    expected = (
        obs.group_by("patient_id")
        .agg(n=pl.len(), top=((pl.col("value") - 2.15) * 10.929).max())
        .filter((pl.col("n") >= 3) & (pl.col("top") > 80))
        .collect()
        .height
    )
    assert int(counts[1]) == expected
