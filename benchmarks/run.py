"""``make bench``: the engine against hand-written DuckDB SQL and Polars, at national scale.

    python -m benchmarks.run                       # 3,000,000 patients (about 360M event rows)
    python -m benchmarks.run --quick               # 100,000 patients, to develop
    python -m benchmarks.run --patients 1000000 --data-root /work/bench-data

Stages (``--stages``, comma-separated; all by default): ``data`` (synth + ingest, cached),
``compile`` (parse + compile of each criteria file), ``studies`` (every example: engine from
raw files, from a snapshot, warm; hand-written baselines where written; patient-by-patient
check), ``cli`` (``p4dp count`` end to end in fresh processes: raw directory first run, second
run with the validation recorded, snapshot, beside DuckDB: :mod:`benchmarks.cli`), ``many``
(50 studies: ``evaluate_many`` vs one by one), ``growth`` (0.1M, 0.3M, 1M, 3M), ``streaming``
(a run over data larger than the process may use), ``memory`` (size of the touched columns),
``scaleout`` (one process vs a local Dask cluster, and the scaling model of
``docs/scale-out.md``). Results go to a JSON file, then ``docs/benchmarks.md`` is rewritten from
it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import json
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from benchmarks import datasets, snapshots
from benchmarks.check import check_agreement
from benchmarks.harness import ROOT, BenchmarkError, alternate
from benchmarks.stages import growth_stage, many_stage, memory_stage, streaming_stage

ALL_STAGES = (
    "data",
    "compile",
    "studies",
    "cli",
    "many",
    "growth",
    "streaming",
    "memory",
    "scaleout",
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def machine() -> dict[str, Any]:
    import duckdb
    import polars as pl

    import matcher

    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "cpus": psutil.cpu_count(logical=True),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "p4dp": matcher.__version__,
        "load_average_at_start": list(psutil.getloadavg()),
    }


def study_id(path: str) -> str:
    from criteria_dsl import compile_file

    return str(compile_file(Path(path)).id)


def study_index(path: str, default: str) -> str:
    """The study's own index date, else the benchmark's fixed one (ISO text)."""
    from criteria_dsl import compile_file

    own = compile_file(Path(path)).index_date
    return own.isoformat() if own is not None else default


def study_tasks(
    path: str, raw: Path, snap: Path | None, has_baseline: bool, threads: int, index: str
) -> dict[str, dict[str, dict[str, Any]]]:
    """The groups of configurations measured for one study, alternated within each group."""
    common = {"study": path, "index_date": index}
    raw_group: dict[str, dict[str, Any]] = {
        "engine_raw": {
            "kind": "engine",
            "source": "raw",
            "data": str(raw),
            "validate": False,
            **common,
        },
    }
    if has_baseline:
        raw_group["duckdb_raw"] = {
            "kind": "duckdb",
            "source": "raw",
            "data": str(raw),
            "threads": threads,
            **common,
        }
        raw_group["polars_raw"] = {"kind": "polars", "source": "raw", "data": str(raw), **common}
    groups = {"raw": raw_group}
    if snap is not None:
        groups["snapshot"] = {
            "engine_snapshot": {
                "kind": "engine",
                "source": "snapshot",
                "data": str(snap),
                **common,
            },
        }
        groups["warm"] = {
            "engine_warm": {"kind": "engine", "source": "warm", "data": str(snap), **common},
        }
        if has_baseline:
            groups["snapshot"]["duckdb_snapshot"] = {
                "kind": "duckdb",
                "source": "snapshot",
                "data": str(snap),
                "threads": threads,
                **common,
            }
            groups["warm"]["duckdb_snapshot_warm"] = {
                "kind": "duckdb",
                "source": "snapshot_warm",
                "data": str(snap),
                "threads": threads,
                **common,
            }
    return groups


def ratio(series: dict[str, Any], a: str, b: str) -> float | None:
    x, y = series.get(a, {}).get("median"), series.get(b, {}).get("median")
    return float(x / y) if x is not None and y is not None else None


def run_study(
    path: str,
    raw: Path,
    snap: Path | None,
    args: argparse.Namespace,
    work: Path,
    touched_mb: float | None,
    *,
    first: bool = True,
) -> dict[str, Any]:
    from benchmarks.baselines import baseline_for

    sid = study_id(path)
    has_baseline = baseline_for(sid) is not None
    log(f"study {sid} ({Path(path).name}); hand-written baselines: {has_baseline}")
    check_dir = work / "check" / Path(path).stem
    shutil.rmtree(check_dir, ignore_errors=True)
    check_dir.mkdir(parents=True)
    series: dict[str, Any] = {}
    index = study_index(path, args.index_date)
    groups = study_tasks(path, raw, snap, has_baseline, args.threads, index)
    for group, tasks in groups.items():
        fresh = group != "warm"
        log(f"  {group}: {', '.join(tasks)} ({'fresh process per run' if fresh else 'warm'})")
        # at national scale only the first study has a warm-up round: the page cache is warm
        # from then on (every run is a fresh process anyway), and the hour budget is tight
        warmup = 0 if (args.patients > 1_000_000 and not first) else 1
        out = alternate(
            tasks, reps=args.reps, warmup=warmup, fresh=fresh, check_dir=check_dir, log=log
        )
        series.update({k: v.to_json() for k, v in out.items()})
    # hand-written Polars holding the raw strings in memory: the reference figure
    # (T2D); at national scale for the first study only (loading 18 GiB takes minutes)
    if has_baseline and "polars_warm" not in args.skip and (first or args.patients <= 1_000_000):
        avail = psutil.virtual_memory().available / 2**20
        need = 1.6 * (touched_mb or 0) + 2048
        task = {
            "kind": "polars",
            "source": "warm",
            "data": str(raw),
            "study": path,
            "index_date": index,
        }
        if touched_mb is not None and avail > need:
            log("  warm hand-written Polars (raw strings held in memory)")
            out = alternate(
                {"polars_warm": task},
                reps=args.reps,
                warmup=1,
                fresh=False,
                check_dir=check_dir,
                log=log,
            )
            series["polars_warm"] = out["polars_warm"].to_json()
        else:
            series["polars_warm"] = {"skipped": f"needs about {need:.0f} MiB, {avail:.0f} free"}
    paths = {p.stem: p for p in check_dir.glob("*.parquet")}
    if not paths:
        raise BenchmarkError(f"{sid}: no configuration ran")
    reference = "engine_raw" if "engine_raw" in paths else sorted(paths)[0]
    check = check_agreement(paths, reference=reference)
    log(f"  all {len(paths)} configurations agree on {check['patients']:,} patients")
    ratios = {
        "engine_raw/duckdb_raw": ratio(series, "engine_raw", "duckdb_raw"),
        "engine_raw/polars_raw": ratio(series, "engine_raw", "polars_raw"),
        "engine_snapshot/duckdb_snapshot": ratio(series, "engine_snapshot", "duckdb_snapshot"),
        "engine_warm/duckdb_snapshot_warm": ratio(series, "engine_warm", "duckdb_snapshot_warm"),
        "engine_warm/polars_warm": ratio(series, "engine_warm", "polars_warm"),
    }
    return {
        "id": sid,
        "file": Path(path).name,
        "baseline": has_baseline,
        "index_date": index,
        "series": series,
        "ratios": ratios,
        "check": check,
        "touched_mb": touched_mb,
    }


def order_studies(files: list[str]) -> list[str]:
    """The T2D study first, then the other studies with hand-written baselines, then the rest."""
    from benchmarks.baselines import baseline_for

    def key(f: str) -> tuple[int, str]:
        if "t2d" in Path(f).stem:
            return (0, f)
        return (1 if baseline_for(study_id(f)) is not None else 2, f)

    return sorted(files, key=key)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--patients", type=int, default=3_000_000)
    p.add_argument("--quick", action="store_true", help="100,000 patients (development)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--index-date",
        default="2026-01-01",
        help="index date of the studies that have none (they say 'today')",
    )
    p.add_argument("--data-root", type=Path, default=ROOT / ".cache" / "bench")
    p.add_argument("--studies", default=str(ROOT / "examples" / "*.p4dp"))
    p.add_argument("--reps", type=int, default=3, help="timed runs per configuration (>= 3)")
    p.add_argument("--threads", type=int, default=2, help="DuckDB threads, POLARS_MAX_THREADS")
    p.add_argument("--stages", default=",".join(ALL_STAGES))
    p.add_argument("--skip", default="", help="configurations to skip, e.g. polars_warm")
    p.add_argument("--growth", default="100000,300000,1000000,3000000")
    p.add_argument(
        "--stream-limit-mb",
        type=int,
        default=None,
        help="address-space limit of the streaming run (default: a quarter of the "
        "in-memory size of the event tables)",
    )
    p.add_argument("--scaleout-workers", type=int, default=2, help="local Dask workers")
    p.add_argument("--scaleout-parts", type=int, default=0, help="parts (0: 2 per worker)")
    p.add_argument("--out", type=Path, default=None, help="results JSON")
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    p.add_argument("--no-report", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.patients = 100_000
    if args.out is None:
        args.out = ROOT / "benchmarks" / "results" / f"results-{datasets.label(args.patients)}.json"
    args.stage_list = [s for s in args.stages.split(",") if s]
    unknown = set(args.stage_list) - set(ALL_STAGES)
    if unknown:
        p.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    files = order_studies(sorted(glob.glob(args.studies)))
    if not files:
        print(f"no criteria files match {args.studies}", file=sys.stderr)
        return 1
    work = args.data_root / f"work-{datasets.label(args.patients)}"
    results: dict[str, Any] = {
        "machine": machine(),
        "patients": args.patients,
        "reps": args.reps,
        "threads": args.threads,
        "stages": {},
    }
    partial = set(args.stage_list) != set(ALL_STAGES)
    if args.out.is_file():  # keep the stages not re-run this time
        previous = json.loads(args.out.read_text())
        results["stages"] = previous.get("stages", {})
        if partial and "machine" in previous:  # the full run's record stays the reference
            rerun = {"stages": args.stage_list, **results["machine"]}
            results["machine"] = previous["machine"]
            results["total_seconds"] = previous.get("total_seconds")
            results["reruns"] = [*previous.get("reruns", []), rerun]
    stages = results["stages"]
    try:
        log(f"data: {args.patients:,} patients under {args.data_root}")
        raw_info = datasets.ensure_population(args.data_root, args.patients, args.seed, log=log)
        raw = Path(raw_info["path"])
        snap: Path | None = None
        snap_info: dict[str, Any] = {"skipped": "matcher.data.open is not available"}
        if snapshots.available():
            snap_info = datasets.ensure_snapshot(
                args.data_root, raw, args.patients, force="data" in args.stage_list, log=log
            )
            snap = Path(snap_info["path"])
        if not partial or "data" in args.stage_list or "data" not in stages:
            stages["data"] = {"raw": raw_info, "snapshot": snap_info}  # else: the full run's
        log(f"  {raw_info['event_rows']:,} event rows, {raw_info['disk_mb']:.0f} MiB of Parquet")

        if {"memory", "studies", "streaming"} & set(args.stage_list):
            stages["memory"] = memory_stage(files, raw, log=log)
        if "compile" in args.stage_list:
            log("parse + compile")
            tasks = {
                Path(f).stem: {"kind": "parse_compile", "study": f, "repeat": 20} for f in files
            }
            out = alternate(tasks, reps=1, warmup=0, fresh=True, log=log)
            stages["compile"] = {k: v.to_json() for k, v in out.items()}
        if "studies" in args.stage_list:
            touched = stages["memory"]["touched_mb"]
            stages["studies"] = []
            for n, f in enumerate(files):
                try:
                    done = run_study(
                        f, raw, snap, args, work, touched.get(Path(f).name), first=n == 0
                    )
                except BenchmarkError as exc:
                    if "RESULTS DIFFER" in str(exc):
                        raise
                    log(f"  {Path(f).name}: {exc}")
                    done = {"file": Path(f).name, "error": str(exc)[:500]}
                stages["studies"].append(done)
                _write(args, results, report=False)  # keep what is measured so far
        _write(args, results, report=False)
        if "cli" in args.stage_list:
            from benchmarks.cli import cli_rows

            log("cli: p4dp count end to end (raw first, raw second, snapshot) and DuckDB")
            stages["cli"] = cli_rows(Path(files[0]), raw, snap)
            _write(args, results, report=False)
        if "many" in args.stage_list:
            stages["many"] = many_stage(
                files, snap, args, raw=raw, studies=stages.get("studies"), log=log
            )
        if "growth" in args.stage_list:
            _write(args, results, report=False)
            stages["growth"] = growth_stage(files, args, stages, log=log)
            _write(args, results, report=False)
        if "streaming" in args.stage_list:
            stages["streaming"] = streaming_stage(
                files, raw, snap, args, touched_mb=stages["memory"]["touched_mb"], log=log
            )
        if "scaleout" in args.stage_list and snap is not None:
            from benchmarks.scaleout import scaleout_stage

            stages["scaleout"] = scaleout_stage(files, snap, raw, args, log=log)
    except BenchmarkError as exc:
        log(str(exc))
        results["error"] = str(exc)
        _write(args, results)
        return 2
    if results.get("reruns") and partial:
        results["reruns"][-1]["seconds"] = time.perf_counter() - started
    else:
        results["total_seconds"] = time.perf_counter() - started
    _write(args, results)
    log(f"done in {(time.perf_counter() - started) / 60:.1f} min; results in {args.out}")
    return 0


def _write(args: argparse.Namespace, results: dict[str, Any], *, report: bool = True) -> None:
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    if report and not args.no_report:
        from benchmarks.report import write_report

        write_report(results, args.doc)
        log(f"report written to {args.doc}")


if __name__ == "__main__":
    sys.exit(main())
