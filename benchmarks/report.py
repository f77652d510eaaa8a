"""Write ``docs/benchmarks.md`` and ``docs/img/benchmarks.png`` from a results JSON file.

    python -m benchmarks.report benchmarks/results/results-3m.json

The hand-written analysis in ``benchmarks/analysis.md`` is appended as is.

    >>> fmt_s(0.01234), fmt_s(12.345), fmt_s(None)
    ('0.012', '12.3', '–')
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.datasets import label
from benchmarks.harness import ROOT

TARGETS = {
    "engine_raw/duckdb_raw": 1.0,
    "engine_raw/polars_raw": 1.1,
    "engine_snapshot/duckdb_snapshot": 1.0,
    "engine_warm/duckdb_snapshot_warm": 1.0,
}


def fmt_s(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if value < 1 else f"{value:.1f}"


def fmt_x(value: float | None, target: float | None = None) -> str:
    if value is None:
        return "–"
    text = f"{value:.2f}×"
    if target is not None:
        text += " ✓" if value <= target else " ✗"
    return text


def fmt_mb(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1024:.2f} GiB" if value >= 1024 else f"{value:.0f} MiB"


def _median(series: dict[str, Any], name: str) -> float | None:
    value = series.get(name, {}).get("median")
    return float(value) if value is not None else None


def _peak(series: dict[str, Any], name: str) -> float | None:
    value = series.get(name, {}).get("peak_mb")
    return float(value) if value is not None else None


def _mark(value: float | None, target: float) -> str:
    """`` ✓`` when ``value`` is within ``target``, `` ✗`` when not, nothing when unknown."""
    if value is None:
        return ""
    return " ✓" if value <= target else " ✗"


def studies_section(studies: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Per study: time (median of the timed runs, seconds) and ratios",
        "",
        "Raw = from the contract Parquet files; snapshot = cold open of the snapshot + evaluate;"
        " warm = the snapshot held in memory. Ratios are engine / baseline medians measured in the"
        " same alternating series (✓ within the issue's target, ✗ not; engine warm: at most"
        " 1 s).",
        "",
        "| study | engine raw | DuckDB raw | Polars raw | engine/DuckDB | engine/Polars |"
        " engine snapshot | DuckDB snapshot | engine/DuckDB (snapshot) | engine warm |"
        " DuckDB warm | engine/DuckDB (warm) | Polars warm |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    failed = [st for st in studies if "error" in st]
    studies = [st for st in studies if "error" not in st]
    for st in studies:
        s, r = st["series"], st["ratios"]
        pw = s.get("polars_warm", {})
        pw_text = fmt_s(pw.get("median")) if "median" in pw else ("skipped" if pw else "–")
        out.append(
            f"| {st['file']} | {fmt_s(_median(s, 'engine_raw'))} |"
            f" {fmt_s(_median(s, 'duckdb_raw'))} | {fmt_s(_median(s, 'polars_raw'))} |"
            f" {fmt_x(r.get('engine_raw/duckdb_raw'), 1.0)} |"
            f" {fmt_x(r.get('engine_raw/polars_raw'), 1.1)} |"
            f" {fmt_s(_median(s, 'engine_snapshot'))} | {fmt_s(_median(s, 'duckdb_snapshot'))} |"
            f" {fmt_x(r.get('engine_snapshot/duckdb_snapshot'), 1.0)} |"
            f" {fmt_s(_median(s, 'engine_warm'))}{_mark(_median(s, 'engine_warm'), 1.0)} |"
            f" {fmt_s(_median(s, 'duckdb_snapshot_warm'))} |"
            f" {fmt_x(r.get('engine_warm/duckdb_snapshot_warm'), 1.0)} | {pw_text} |"
        )
    for st in failed:
        out.append(f"| {st['file']} | failed: {st['error'][:120]} |" + " |" * 11)
    out += [
        "",
        "## Per study: peak memory (RSS of the measuring process)",
        "",
        "Touched = in-memory size (Polars) of the raw contract columns the study reads; the"
        " target is a peak of at most 2 × that. Warm = resident while the snapshot is held"
        " (target: at most 6 GiB).",
        "",
        "| study | touched columns | engine raw | engine raw / touched | DuckDB raw | Polars raw |"
        " engine snapshot | engine warm (resident) | DuckDB warm | agreement |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for st in studies:
        s = st["series"]
        touched = st.get("touched_mb")
        peak = _peak(s, "engine_raw")
        rel = fmt_x(peak / touched, 2.0) if peak and touched else "–"
        verdicts = st["check"]["verdicts"]
        agree = (
            f"{st['check']['patients']:,} patients, {len(st['check']['compared'])} configurations"
            f" (eligible {verdicts.get('eligible', 0):,})"
        )
        out.append(
            f"| {st['file']} | {fmt_mb(touched)} | {fmt_mb(peak)} | {rel} |"
            f" {fmt_mb(_peak(s, 'duckdb_raw'))} | {fmt_mb(_peak(s, 'polars_raw'))} |"
            f" {fmt_mb(_peak(s, 'engine_snapshot'))} |"
            f" {fmt_mb(_peak(s, 'engine_warm'))}{_mark(_peak(s, 'engine_warm'), 6 * 1024)} |"
            f" {fmt_mb(_peak(s, 'duckdb_snapshot_warm'))} | {agree} |"
        )
    return [*out, ""]


def compile_section(comp: dict[str, Any]) -> list[str]:
    out = [
        "## Parse + compile of each criteria file",
        "",
        "Median of 20 parse + compile runs in one process (after a first compile that loads the"
        " grammar and terminology tables); target < 50 ms.",
        "",
        "| file | parse (ms) | parse + compile (ms) | slowest of 20 (ms) | first compile (ms) |",
        "|---|---|---|---|---|",
    ]
    for name, c in sorted(comp.items()):
        pc = c.get("parse_compile_ms")
        ok = "" if pc is None else (" ✓" if pc < 50 else " ✗")
        out.append(
            f"| {name}.p4dp | {c.get('parse_ms', 0):.1f} | {pc or 0:.1f}{ok} |"
            f" {c.get('max_parse_compile_ms', 0):.1f} | {c.get('first_compile_ms', 0):.0f} |"
        )
    return [*out, ""]


def many_section(many: dict[str, Any]) -> list[str]:
    if "error" in many:
        return ["## 50 studies at once", "", f"Not measured: {many['error']}", ""]
    ratio = many["many_over_one_study"]
    return [
        "## 50 studies at once",
        "",
        "The examples plus variants with other thresholds and windows (`benchmarks/variants.py`),"
        f" over the {many['source']} ({many['patients']:,} patients); the two modes alternate in"
        " one process and must give identical per-patient results (checked on every run).",
        "",
        "| evaluate_many (50) | one by one (50) | mean per study | many / one study |"
        " many / one by one |",
        "|---|---|---|---|---|",
        f"| {fmt_s(many['many_ms'] / 1000)} s | {fmt_s(many['one_by_one_ms'] / 1000)} s |"
        f" {fmt_s(many['per_study_ms'] / 1000)} s | {fmt_x(ratio, 5.0)} |"
        f" {fmt_x(many['many_over_one_by_one'])} |",
        "",
        *many_raw_lines(many.get("raw")),
    ]


def many_raw_lines(raw: dict[str, Any] | None) -> list[str]:
    """The fifty over the raw files, against the per-study stage's single evaluations."""
    if not raw:
        return []
    if "median" not in raw:
        reason = raw.get("skipped") or raw.get("error", "")
        return [f"Over the raw files: not measured ({reason[:200]}).", ""]
    return [
        "Over the raw Parquet files, `evaluate_many` alone (each event table scanned once for"
        " the fifty), against the single-study `engine raw` medians of the table above: the"
        ' median example ("one study") and the sum over the fifty of their example\'s median'
        ' ("one by one", an estimate: fifty single evaluations from raw files would take most'
        " of the hour).",
        "",
        "| evaluate_many (50), raw files | one study (median) | many / one study |"
        " one by one (estimate) | many / one by one | peak RSS |",
        "|---|---|---|---|---|---|",
        f"| {fmt_s(raw['median'])} s | {fmt_s(raw['one_study_s'])} s |"
        f" {fmt_x(raw['many_over_one_study'], 5.0)} | {fmt_s(raw['one_by_one_estimate_s'])} s |"
        f" {fmt_x(raw['many_over_one_by_one'])} | {fmt_mb(raw.get('peak_mb'))} |",
        "",
    ]


GROWTH_LINES = [
    ("engine_raw", "engine, raw files"),
    ("duckdb_raw", "DuckDB SQL, raw files"),
    ("polars_raw", "hand-written Polars, raw files"),
    ("engine_snapshot", "engine, snapshot (cold)"),
    ("duckdb_snapshot", "DuckDB SQL, snapshot files"),
    ("engine_warm", "engine, warm snapshot"),
    ("duckdb_snapshot_warm", "DuckDB SQL, snapshot in memory"),
]


def growth_section(growth: dict[str, Any]) -> list[str]:
    points = growth["points"]
    present = [(k, t) for k, t in GROWTH_LINES if any(k in p for p in points)]
    out = [
        f"## Growth curve ({growth['study']})",
        "",
        "![growth curve](img/benchmarks.png)",
        "",
        "| patients | event rows | ingest | " + " | ".join(t for _, t in present) + " |",
        "|---|---|---|" + "---|" * len(present),
    ]
    for p in points:
        cells = [fmt_s(p.get(k, {}).get("median")) for k, _ in present]
        out.append(
            f"| {label(p['patients'])} | {p['event_rows']:,} | {fmt_s(p.get('ingest_seconds'))}"
            " | " + " | ".join(cells) + " |"
        )
    return [*out, "", "Times in seconds (medians)."]


def streaming_section(st: dict[str, Any]) -> list[str]:
    out = [
        "## Streaming over data larger than the process may use",
        "",
        f"Study {st['study']}: the columns it touches take {fmt_mb(st['touched_mb'])} in memory;"
        f" the process may use {fmt_mb(st['limit_mb'])}, enforced by"
        + (
            " a memory cgroup (resident memory and page cache; the kernel kills the process"
            " beyond it)."
            if st.get("limit_kind", "address space").startswith("cgroup")
            else " an address-space limit (RLIMIT_AS, set before the worker starts; memory-mapped"
            " files and reserved thread stacks count against it although not resident)."
        ),
        "",
        "| run | result | time | peak RSS |",
        "|---|---|---|---|",
    ]
    for key, text in (
        ("raw_streaming", "raw files, streaming engine"),
        ("raw_in_memory", "raw files, default engine"),
        ("snapshot_streaming", "snapshot, streaming engine"),
        ("snapshot_in_memory", "snapshot, default engine"),
    ):
        if key not in st:
            continue
        r = st[key]
        result = "ok" if r["ok"] else f"failed: `{r['error'][:80]}`"
        out.append(
            f"| {text} | {result} | {fmt_s(r.get('seconds'))} s | {fmt_mb(r.get('peak_mb'))} |"
        )
    return [*out, ""]


def plot(results: dict[str, Any], path: Path) -> bool:
    growth = results["stages"].get("growth")
    if not growth or not growth["points"]:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    points = growth["points"]
    for key, text in GROWTH_LINES:
        xs = [p["patients"] / 1e6 for p in points if key in p]
        ys = [p[key]["median"] for p in points if key in p]
        if xs:
            style = "-o" if key.startswith("engine") else "--s"
            ax.plot(xs, ys, style, label=text)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("patients (millions)")
    ax.set_ylabel("seconds (median)")
    ax.set_title(f"{growth['study']}: time against population size, 2 threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _duration_lines(results: dict[str, Any], raw: dict, snap: dict) -> list[str]:
    """How long the whole run took, and whether it generated its data or reused it."""
    total = results.get("total_seconds")
    if total is None:
        return []
    made = [
        what
        for what, done in (
            ("generated the population", raw.get("generated")),
            ("built the snapshot", snap.get("reused") is False),
        )
        if done
    ]
    how = f"it {' and '.join(made)}" if made else "it reused a cached population and snapshot"
    lines = [f"This run took {total / 60:.1f} min end to end ({how})."]
    for rerun in results.get("reruns", []):
        took = f", {rerun['seconds'] / 60:.1f} min" if "seconds" in rerun else ""
        lines.append(
            f"Stage(s) {', '.join(rerun['stages'])} re-run alone on {rerun['date']}{took};"
            " their tables below come from that run."
        )
    return [" ".join(lines), ""]


def write_report(results: dict[str, Any], doc: Path) -> None:
    """Rewrite ``doc`` (and the plot beside it in ``img/``) from ``results``."""
    m, stages = results["machine"], results["stages"]
    data = stages.get("data", {})
    raw, snap = data.get("raw", {}), data.get("snapshot", {})
    lines = [
        "# Benchmarks",
        "",
        "<!-- generated by `make bench` (benchmarks/report.py) from"
        f" benchmarks/results/results-{label(results['patients'])}.json; do not edit by hand -->",
        "",
        f"Run of {m['date']} on {m['cpus']} CPUs and {m['memory_gib']} GiB of memory"
        f" ({m['platform']}); Python {m['python']}, Polars {m['polars']}, DuckDB {m['duckdb']},"
        f" p4dp {m['p4dp']}. DuckDB `threads` = POLARS_MAX_THREADS = {results['threads']};"
        f" {results['reps']} timed runs per configuration, alternating between the systems,"
        " after one warm-up round (above a million patients for the first study only: the"
        " page cache is warm from then on); each cold configuration runs in a fresh process"
        " (the operating system's page cache is warm), each warm one in a process that holds"
        " its data."
        f" Load average at start: {', '.join(f'{x:.1f}' for x in m['load_average_at_start'])}.",
        "",
        *_duration_lines(results, raw, snap),
        "## Data",
        "",
        f"* synthetic population (`p4dp synth --seed {raw.get('seed')}`):"
        f" {raw.get('patients', 0):,} patients, {raw.get('event_rows', 0):,} event rows,"
        f" {fmt_mb(raw.get('disk_mb'))} of Parquet"
        + (f", generated in {fmt_s(raw['synth_seconds'])} s" if raw.get("synth_seconds") else "")
        + ";",
    ]
    if "ingest_seconds" in snap:
        lines.append(
            f"* snapshot (`p4dp data ingest`): {fmt_mb(snap.get('disk_mb'))} on disk, ingested in"
            f" {fmt_s(snap['ingest_seconds'])} s with a peak of {fmt_mb(snap['ingest_peak_mb'])}."
        )
    else:
        lines.append(f"* snapshot: {snap.get('skipped', 'not measured')}.")
    if "memory" in stages:
        lines.append(
            f"* all contract columns together take {fmt_mb(stages['memory']['all_mb'])} in"
            " memory as Polars frames (string pseudonyms and codes)."
        )
    lines.append("")
    if "studies" in stages:
        lines += studies_section(stages["studies"])
    if "cli" in stages:
        from benchmarks.cli import cli_section

        lines += cli_section(stages["cli"])
    if "compile" in stages:
        lines += compile_section(stages["compile"])
    if "many" in stages:
        lines += many_section(stages["many"])
    if "growth" in stages:
        lines += growth_section(stages["growth"])
        plot(results, doc.parent / "img" / "benchmarks.png")
        lines.append("")
    if "streaming" in stages:
        lines += streaming_section(stages["streaming"])
    if "scaleout" in stages:
        from benchmarks.scaleout import scaleout_section

        lines += scaleout_section(stages["scaleout"])
    if results.get("error"):
        lines += ["## This run stopped on an error", "", "```", results["error"][:3000], "```", ""]
    hand_written = ("analysis.md", "ten-million.md", "shared-1m.md")  # kept across runs
    for note in hand_written:
        analysis = ROOT / "benchmarks" / note
        if analysis.is_file():
            lines += [analysis.read_text(encoding="utf-8").rstrip(), ""]
    lines += [
        "## How to reproduce",
        "",
        "```sh",
        "make bench                                   # 3,000,000 patients, cached in .cache/bench",
        "make bench BENCH_ARGS=--quick                # 100,000 patients",
        "make bench BENCH_ARGS='--patients 1000000 --data-root /big/disk'",
        ".venv/bin/python -m benchmarks.run --help    # stages, repetitions, threads",
        ".venv/bin/python -m benchmarks.report benchmarks/results/results-3m.json  # redraw",
        "```",
        "",
        "The population is generated once (`p4dp synth`, deterministic for its seed) and the"
        " snapshot built once (`p4dp data ingest`); later runs reuse them. The hand-written"
        " baselines are in `benchmarks/baselines/`; every run checks that the engine, DuckDB and"
        " Polars agree patient by patient (every rule value and the verdict) and aborts if not.",
        "",
    ]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if not args:
        print("usage: python -m benchmarks.report RESULTS.json [DOC.md]", file=sys.stderr)
        return 1
    results = json.loads(Path(args[0]).read_text())
    doc = Path(args[1]) if len(args) > 1 else ROOT / "docs" / "benchmarks.md"
    write_report(results, doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
