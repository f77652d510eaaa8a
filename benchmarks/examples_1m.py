"""Time every example study at 1M patients: compile time and warm evaluate time.

Not a test: a measurement for the engine note (issue 5, "the time to evaluate each example
study at 1M patients"). The data are opened once (a snapshot is memory-mapped, raw Parquet is
scanned lazily); each study is then compiled (criteria text -> IR, code sets resolved) and
evaluated ``--runs`` times after one warm-up run; the best and median runs are reported, with
the process's peak resident memory. ``--together`` also times ``evaluate_many`` over all
examples (one shared scan per table).

Usage::

    .venv/bin/python -m benchmarks.examples_1m                   # snapshot if present, else raw
    .venv/bin/python -m benchmarks.examples_1m --data /work/bench-data/synth-1m --runs 3
    .venv/bin/python -m benchmarks.examples_1m --json out.json --only t2d_glp1

When neither ``/work/bench-data/snap-1m`` nor ``/work/bench-data/synth-1m`` exists, the raw
data set is generated first (``p4dp synth --patients 1000000 --seed 1``, several minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path("/work/bench-data")
SNAPSHOT = BENCH / "snap-1m"
RAW = BENCH / "synth-1m"
FALLBACK_INDEX = dt.date(2026, 6, 30)  # last day of the synthetic data window


def default_data() -> Path:
    """The 1M snapshot when ingested already, else the raw 1M directory (generated if absent)."""
    if (SNAPSHOT / "manifest.json").is_file():
        return SNAPSHOT
    if not RAW.is_dir():
        from matcher.synth import generate

        print(f"generating 1M synthetic patients into {RAW} ...", file=sys.stderr)
        generate(1_000_000, 1, RAW)
    return RAW


def peak_mib() -> float:
    """Peak resident memory of this process so far (Linux ``ru_maxrss``), in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(
    files: list[Path], data_path: Path, runs: int, together: bool, index: dt.date | None
) -> dict:
    """Open the data, then compile and time each study; ``index`` overrides every study's
    index date (default: the study's own, else ``FALLBACK_INDEX``, so counts do not depend
    on the day the benchmark runs)."""
    from criteria_dsl import compile_file
    from matcher.data.open import open_data
    from matcher.engine.evaluate import evaluate, evaluate_many

    started = time.perf_counter()
    data = open_data(data_path, progress=False)
    opened = time.perf_counter() - started
    rows = []
    studies = []
    for file in files:
        t0 = time.perf_counter()
        study = compile_file(file)
        compile_s = time.perf_counter() - t0
        study = dataclasses.replace(study, index_date=index or study.index_date or FALLBACK_INDEX)
        studies.append(study)
        t0 = time.perf_counter()
        first = evaluate(study, data, validate=False)
        first_s = time.perf_counter() - t0
        times, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            result = evaluate(study, data, validate=False)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert result.counts == first.counts, "repeated runs disagree"
        rows.append(
            {
                "example": file.stem,
                "rules": len(study.rules),
                "index_date": str(first.index_date),
                "compile_s": compile_s,
                "first_s": first_s,
                "best_s": min(times) if times else first_s,
                "median_s": statistics.median(times) if times else first_s,
                "cpu_s": min(cpu) if cpu else float("nan"),
                "counts": first.counts.to_dict(),
                "peak_mib": peak_mib(),
            }
        )
        print(_line(rows[-1]), file=sys.stderr, flush=True)
    out = {
        "data": str(data_path),
        "open_s": opened,
        "cpus": psutil.cpu_count(),
        "load_avg": list(psutil.getloadavg()),
        "runs": runs,
        "examples": rows,
    }
    if together:
        t0, c0 = time.perf_counter(), time.process_time()
        evaluate_many(studies, data, validate=False)
        out["together_s"] = time.perf_counter() - t0
        out["together_cpu_s"] = time.process_time() - c0
        out["together_peak_mib"] = peak_mib()
    return out


def _line(row: dict) -> str:
    c = row["counts"]
    return (
        f"| {row['example']} | {row['rules']} | {row['index_date']} | {row['compile_s']:.2f} "
        f"| {row['first_s']:.2f} | {row['best_s']:.2f} | {row['median_s']:.2f} "
        f"| {row['cpu_s']:.2f} "
        f"| {c['base']:,} | {c['eligible']:,} | {c['possibly_eligible']:,} "
        f"| {row['peak_mib']:,.0f} |"
    )


def table(report: dict) -> str:
    """The report as a Markdown table."""
    head = (
        "| example | rules | index | compile s | first eval s | best eval s | median eval s "
        "| CPU s (all threads) | base | eligible | possibly | peak MiB |\n|" + "---|" * 12
    )
    lines = [
        f"data: {report['data']} (opened in {report['open_s']:.2f} s); {report['cpus']} CPUs, "
        f"load average {report['load_avg'][0]:.1f}; best/median of {report['runs']} warm runs",
        "",
        head,
        *(_line(row) for row in report["examples"]),
    ]
    if "together_s" in report:
        lines += [
            "",
            f"evaluate_many (all {len(report['examples'])} together): "
            f"{report['together_s']:.2f} s (CPU {report['together_cpu_s']:.2f} s), "
            f"peak {report['together_peak_mib']:,.0f} MiB",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="snapshot or raw directory")
    parser.add_argument("--runs", type=int, default=3, help="warm runs after the warm-up")
    parser.add_argument("--only", action="append", help="example stem (repeatable)")
    parser.add_argument("--together", action="store_true", help="also time evaluate_many")
    parser.add_argument("--json", type=Path, help="write the raw report here")
    parser.add_argument(
        "--index-date",
        type=dt.date.fromisoformat,
        help=f"index date for every study (default: its own, else {FALLBACK_INDEX})",
    )
    args = parser.parse_args(argv)
    files = sorted((ROOT / "examples").glob("*.p4dp"))
    if args.only:
        files = [f for f in files if f.stem in args.only]
    report = measure(files, args.data or default_data(), args.runs, args.together, args.index_date)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
