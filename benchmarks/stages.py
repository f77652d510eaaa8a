"""The benchmark stages beyond the per-study comparison: memory, 50 studies, growth, streaming."""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path
from typing import Any

from benchmarks import datasets, snapshots
from benchmarks.harness import BenchmarkError, Worker, alternate, checked
from benchmarks.limits import MemoryLimit


def _baselined(files: list[str]) -> str:
    """The first study with hand-written baselines (the T2D study), else the first file."""
    from benchmarks.baselines import baseline_for
    from criteria_dsl import compile_file

    for f in files:
        if baseline_for(compile_file(Path(f)).id) is not None and "t2d" in Path(f).stem:
            return f
    for f in files:
        if baseline_for(compile_file(Path(f)).id) is not None:
            return f
    return files[0]


def memory_stage(files: list[str], raw: Path, *, log: Any) -> dict[str, Any]:
    """In-memory size of every contract column, and of the columns each study touches."""
    log("memory: in-memory size of the columns (Polars estimated_size)")
    worker = Worker({"kind": "column_sizes", "data": str(raw), "studies": files})
    try:
        answer = checked(worker.run(), "column sizes")
    finally:
        worker.close()
    for name, mb in answer["touched_mb"].items():
        log(f"  {name:<32} touches {mb:9.0f} MiB of columns")
    return {
        "columns_mb": answer["columns_mb"],
        "touched_mb": answer["touched_mb"],
        "all_mb": answer["all_mb"],
    }


def many_stage(
    files: list[str],
    snap: Path | None,
    args: argparse.Namespace,
    *,
    raw: Path | None = None,
    studies: list[dict] | None = None,
    log: Any,
) -> dict[str, Any]:
    """Fifty studies: ``evaluate_many`` vs one by one, alternated, over the warm snapshot.

    If the engine cannot run on the snapshot, the comparison falls back to the raw files of
    a 100,000-patient population held in memory (recorded as such in the results). With
    ``raw``, :func:`many_raw` measures the fifty over the raw files too.
    """
    big = args.patients > 1_000_000
    reps = max(1, min(args.reps, 2)) if big else args.reps
    attempts = []
    if snap is not None:
        attempts.append(("warm snapshot", "warm", str(snap), args.patients))
    fallback = min(args.patients, 100_000)
    attempts.append(("raw frames in memory", "frames", None, fallback))
    out: dict[str, Any] = {}
    for label_, source, data, patients in attempts:
        if data is None:
            data = datasets.ensure_population(args.data_root, patients, args.seed, log=log)["path"]
        log(f"50 studies over {label_} ({patients:,} patients): evaluate_many vs one by one")
        task = {
            "kind": "engine_many",
            "data": data,
            "source": source,
            "index_date": args.index_date,
            "studies": {"files": files, "total": 50},
        }
        out = alternate({"fifty": task}, reps=reps, warmup=0 if big else 1, fresh=False, log=log)[
            "fifty"
        ].to_json()
        if "error" not in out:
            out.update(source=label_, patients=patients)
            break
    if "error" in out:
        return out
    many, one = out["many_ms"], out["one_by_one_ms"]
    out["per_study_ms"] = one / 50
    out["many_over_one_study"] = many / (one / 50)
    out["many_over_one_by_one"] = many / one
    log(
        f"  evaluate_many {many / 1000:.1f} s, one by one {one / 1000:.1f} s "
        f"({out['many_over_one_study']:.1f} x the time of one study)"
    )
    if raw is not None:
        out["raw"] = many_raw(files, raw, args, studies or [], log=log)
    return out


def many_raw(
    files: list[str], raw: Path, args: argparse.Namespace, studies: list[dict], *, log: Any
) -> dict[str, Any]:
    """``evaluate_many`` of the fifty over the raw files (one scan of each table for all).

    Compared with the single-study ``engine_raw`` medians of the per-study stage: the median
    example ("one study") and the sum over the fifty of their example's median ("one by one",
    an estimate: fifty single evaluations from raw files would take most of the hour).
    """
    from benchmarks.variants import load_variants

    singles = {
        st["id"]: st["series"]["engine_raw"]["median"]
        for st in studies
        if "median" in st.get("series", {}).get("engine_raw", {})
    }
    if not singles:
        return {"skipped": "no single-study engine_raw medians: run the studies stage too"}
    big = args.patients > 1_000_000
    log(f"50 studies over the raw files ({args.patients:,} patients): evaluate_many alone")
    task = {
        "kind": "engine_many",
        "data": str(raw),
        "source": "raw",
        "index_date": args.index_date,
        "studies": {"files": files, "total": 50},
        "one_by_one": False,
    }
    out = alternate(
        {"fifty_raw": task}, reps=1 if big else args.reps, warmup=0, fresh=True, log=log
    )
    got = out["fifty_raw"].to_json()
    if "error" in got:
        return got
    ids = [s.id.split("~v")[0] for s in load_variants({"files": files, "total": 50})]
    one = statistics.median(singles.values())
    one_by_one = sum(singles.get(i, one) for i in ids)
    got.update(
        one_study_s=one,
        one_by_one_estimate_s=one_by_one,
        many_over_one_study=got["median"] / one,
        many_over_one_by_one=got["median"] / one_by_one,
    )
    log(
        f"  evaluate_many {got['median']:.1f} s from raw files; one study (median) {one:.1f} s "
        f"({got['many_over_one_study']:.1f} x); one by one about {one_by_one:.0f} s"
    )
    return got


def growth_stage(
    files: list[str], args: argparse.Namespace, main: dict[str, Any], *, log: Any
) -> dict[str, Any]:
    """The T2D study at 0.1M, 0.3M, 1M, 3M patients (sizes up to ``--patients``).

    The point at ``--patients`` itself is taken from the per-study stage (``main``).
    """
    study = _baselined(files)
    sizes = sorted(int(s) for s in args.growth.split(",") if int(s) <= args.patients)
    log(f"growth curve of {Path(study).name}: {', '.join(datasets.label(n) for n in sizes)}")
    points = []
    for n in sizes:
        if n == args.patients:
            done = [s for s in main.get("studies", []) if s["file"] == Path(study).name]
            if done:
                point = {
                    "patients": n,
                    "event_rows": main["data"]["raw"]["event_rows"],
                    "ingest_seconds": main["data"]["snapshot"].get("ingest_seconds"),
                }
                for name, j in done[0]["series"].items():
                    if "median" in j:
                        point[name] = {"median": j["median"], "peak_mb": j["peak_mb"]}
                points.append(point)
                continue
        raw_info = datasets.ensure_population(args.data_root, n, args.seed, log=log)
        raw = Path(raw_info["path"])
        snap = None
        if snapshots.available():
            snap_info = datasets.ensure_snapshot(args.data_root, raw, n, log=log)
            snap = Path(snap_info["path"])
        else:
            snap_info = {}
        from benchmarks.baselines import baseline_for
        from benchmarks.run import study_id, study_index, study_tasks

        groups = study_tasks(
            study,
            raw,
            snap,
            baseline_for(study_id(study)) is not None,
            args.threads,
            study_index(study, args.index_date),
        )
        point: dict[str, Any] = {
            "patients": n,
            "event_rows": raw_info["event_rows"],
            "ingest_seconds": snap_info.get("ingest_seconds"),
        }
        for group, tasks in groups.items():
            out = alternate(tasks, reps=args.reps, warmup=1, fresh=group != "warm", log=log)
            for name, s in out.items():
                j = s.to_json()
                if "median" in j:
                    point[name] = {"median": j["median"], "peak_mb": j["peak_mb"]}
                else:
                    point[name + "_error"] = j.get("error")
        points.append(point)
    return {"study": Path(study).name, "points": points}


def streaming_stage(
    files: list[str],
    raw: Path,
    snap: Path | None,
    args: argparse.Namespace,
    *,
    touched_mb: dict[str, float],
    log: Any,
) -> dict[str, Any]:
    """The T2D study over data larger than the memory the process may use.

    The cap defaults to a quarter of the in-memory size of the columns the study touches (at
    least 2 GiB): a memory cgroup where one can be made, else an address-space limit (see
    :mod:`benchmarks.limits`). Four runs: raw files and snapshot, each with Polars'
    streaming engine and with the default one.
    """
    study = _baselined(files)
    touched = touched_mb[Path(study).name]
    limit = args.stream_limit_mb or max(2048, int(touched / 4))
    probe = MemoryLimit(limit)
    kind = probe.kind
    probe.close()
    log(
        f"streaming: {Path(study).name}, columns touched {touched:.0f} MiB in memory, "
        f"memory limited to {limit} MiB ({kind})"
    )
    out: dict[str, Any] = {
        "study": Path(study).name,
        "touched_mb": touched,
        "limit_mb": limit,
        "limit_kind": kind,
    }
    runs = [("raw_streaming", "raw", raw, True), ("raw_in_memory", "raw", raw, False)]
    if snap is not None:
        runs += [
            ("snapshot_streaming", "snapshot", snap, True),
            ("snapshot_in_memory", "snapshot", snap, False),
        ]
    for name, source, data, streaming in runs:
        from benchmarks.run import study_index

        task = {
            "kind": "engine",
            "source": source,
            "data": str(data),
            "study": study,
            "index_date": study_index(study, args.index_date),
            "streaming": streaming,
            "validate": False,
        }
        cap = MemoryLimit(limit)
        worker = Worker(task, threads=args.threads, memory_limit=cap)
        try:
            answer = worker.prepared if not worker.prepared.get("ok") else worker.run()
        finally:
            worker.close()
            cap.close()
        if answer.get("ok"):
            out[name] = {"ok": True, "seconds": answer["seconds"], "peak_mb": answer["peak_mb"]}
            log(f"  {name}: ok in {answer['seconds']:.1f} s, peak {answer['peak_mb']:.0f} MiB")
        else:
            error = str(answer.get("error", ""))[:300]
            out[name] = {"ok": False, "error": error, "peak_mb": answer.get("peak_mb")}
            log(f"  {name}: failed under the limit ({error[:120]})")
    if not out["raw_streaming"]["ok"] and not out.get("snapshot_streaming", {}).get("ok"):
        log("  no streaming run succeeded under the limit")
    return out


__all__ = ["BenchmarkError", "growth_stage", "many_stage", "memory_stage", "streaming_stage"]
