"""Where the engine's time goes for one study, stage by stage, next to the hand-written Polars.

    python -m benchmarks.profile_engine examples/t2d_glp1.p4dp /work/bench-data/synth-1m

Polars 2 removed ``LazyFrame.profile``; this collects each part of the engine's plan on its
own (the patients frame, each per-table aggregation) and then the whole plan, and does the
same for the hand-written baseline's per-table aggregations when one exists.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import polars as pl


def timed(name: str, lf: pl.LazyFrame) -> pl.DataFrame:
    t0 = time.perf_counter()
    out = lf.collect()
    print(f"  {name:<52} {time.perf_counter() - t0:7.2f} s  {out.height:>10,} rows")
    return out


def main(argv: list[str]) -> int:
    from criteria_dsl import compile_file
    from matcher.data.loader import load_dataset
    from matcher.data.schema import TABLES
    from matcher.engine.compile import Context, _aggregate, compile_study, predicate
    from matcher.engine.plan import Plan

    study = compile_file(Path(argv[0]))
    data = Path(argv[1])
    index = study.index_date or dt.date(2026, 1, 1)
    t0 = time.perf_counter()
    ds = load_dataset(data, validate=False)
    tables = {n: getattr(ds, n) for n in TABLES}
    plan = Plan()
    ctx = Context(study, index, plan)
    for rule in study.rules:
        predicate(rule.predicate, ctx)
    print(f"engine: load_dataset + plan: {time.perf_counter() - t0:.3f} s")
    timed("patients (not opted out)", tables["patients"].filter(~pl.col("opted_out")))
    for n, (frame, _) in enumerate(_aggregate(plan, tables, ds.patient_key, read=None)):
        tables_used = sorted({s.domain.value for s in plan.sets})
        timed(f"aggregate {n} ({', '.join(tables_used)})", frame)
    timed("whole engine plan", compile_study(study, tables, index))

    from benchmarks.baselines import baseline_for
    from benchmarks.baselines.common import Ctx

    module = baseline_for(study.id)
    if module is not None:
        frames = {n: pl.scan_parquet(data / f"{n}.parquet") for n in TABLES}
        print("hand-written Polars:")
        for name in ("patients", "diagnoses", "prescriptions", "observations"):
            timed(f"scan {name} (all columns)", frames[name].select(pl.len()))
        timed("whole hand-written plan", module.polars_plan(Ctx(study, index), frames))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
