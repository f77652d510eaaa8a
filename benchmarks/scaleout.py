"""The ``scaleout`` stage: one process vs a local Dask cluster, and a scaling model.

Measured on the benchmark population (every example study, counts as ``p4dp count`` makes
them: evaluation, then the ``RawFeasibility`` of each study):

* ``one_process``: ``evaluate_many`` over the plain snapshot, in this process;
* ``parts_in_process``: the partitioned snapshot, parts one after the other, histograms;
* ``cluster``: the same parts on a local cluster of ``--scaleout-workers`` processes (its start
  is timed apart; a warm-up run first, as a long-lived cluster would be);
* per part: the time of each part alone, and the bytes a run sends to a worker (the job:
  frozen IR, path, query) and gets back (the histograms), pickled as Dask sends them.

:func:`scaling_model` turns those into the time for 30M and 100M patients on 8 and 32 workers
(its assumptions are written in ``docs/scale-out.md`` and in the result itself).

    >>> model = scaling_model(per_patient_s=2e-7, fixed_part_s=0.05, task_overhead_s=0.01,
    ...     bytes_per_part=200_000, start_s=3.0)
    >>> sorted(model)[:2], model["30M on 8 workers"]["parts"]
    (['100M on 32 workers', '100M on 8 workers'], 30)
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import time
from pathlib import Path
from typing import Any

PATIENTS_PER_PART = 1_000_000
"""Target part size of the model (a part must fit one worker's memory comfortably)."""
NETWORK_BYTES_PER_S = 1e9 / 8
"""1 Gbit/s between the scheduler and the workers (a conservative data-centre link)."""
MODEL_SIZES = (30_000_000, 100_000_000)
MODEL_WORKERS = (8, 32)


def _timed(func: Any, reps: int) -> dict[str, Any]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "runs_s": times}


def ensure_partitioned(root: Path, raw: Path, label: str, parts: int, log: Any) -> Path:
    """The partitioned snapshot of ``raw`` in ``parts`` parts, built once and reused."""
    from matcher.snapshot.partition import ingest_partitioned, is_partitioned, read_partitions

    path = root / f"parts-{label}-{parts}"
    if is_partitioned(path) and read_partitions(path).partitions == parts:
        log(f"  reusing {path}")
        return path
    log(f"  ingesting {raw} into {parts} parts at {path}")
    start = time.perf_counter()
    ingest_partitioned(raw, path, partitions=parts, overwrite=True)
    log(f"  ingested in {time.perf_counter() - start:.1f} s")
    return path


def scaling_model(
    *,
    per_patient_s: float,
    fixed_part_s: float,
    task_overhead_s: float,
    bytes_per_part: float,
    start_s: float,
) -> dict[str, dict[str, float]]:
    """Predicted wall time of one count for each size in ``MODEL_SIZES`` and worker count.

    time = cluster already running (``start_s`` reported apart)
         + ceil(parts / workers) waves x (fixed cost of a part + its patients x per-patient cost
           + scheduler overhead per task)
         + all parts' answers and jobs over one network link (the scheduler's)
    """
    out = {}
    for patients in MODEL_SIZES:
        parts = max(1, math.ceil(patients / PATIENTS_PER_PART))
        for workers in MODEL_WORKERS:
            parts_run = max(parts, workers)  # at least one part per worker
            waves = math.ceil(parts_run / workers)
            part_s = fixed_part_s + (patients / parts_run) * per_patient_s + task_overhead_s
            network_s = parts_run * bytes_per_part / NETWORK_BYTES_PER_S
            total = waves * part_s + network_s
            out[f"{patients // 1_000_000}M on {workers} workers"] = {
                "parts": parts_run,
                "waves": waves,
                "part_s": round(part_s, 3),
                "network_s": round(network_s, 4),
                "total_s": round(total, 2),
                "cluster_start_s": round(start_s, 1),
            }
    return out


def scaleout_stage(
    files: list[str], snap: Path, raw: Path, args: argparse.Namespace, *, log: Any
) -> dict[str, Any]:
    """Measure one process vs a local cluster, and fit the scaling model (module docstring)."""
    import datetime as dt

    from criteria_dsl import compile_file
    from matcher.engine.evaluate import evaluate_many
    from matcher.feasibility import build_raw
    from matcher.scaleout import count_parts, local_cluster
    from matcher.scaleout.tasks import PartJob, run_part
    from matcher.snapshot.partition import open_partitioned

    workers, reps = args.scaleout_workers, max(1, args.reps)
    parts_n = args.scaleout_parts or 2 * workers
    studies = [compile_file(Path(f)) for f in files]
    index = dt.date.fromisoformat(args.index_date)
    from benchmarks import datasets

    parts = ensure_partitioned(args.data_root, raw, datasets.label(args.patients), parts_n, log)

    def one_process() -> list:
        results = evaluate_many(studies, snap, index_date=index, validate=False)
        return [build_raw(r, with_keys=False) for r in results]

    def in_parts(client: Any = None) -> list:
        results = count_parts(studies, parts, index_date=index, client=client)
        return [build_raw(r, with_keys=False) for r in results]

    log(f"scaleout: {len(studies)} studies, {parts_n} parts, {workers} workers, {reps} runs")
    reference = one_process()
    out: dict[str, Any] = {"studies": len(studies), "parts": parts_n, "workers": workers}
    out["one_process"] = _timed(one_process, reps)
    if in_parts() != reference:
        raise RuntimeError("scaleout: the partitioned counts differ from one process")
    out["parts_in_process"] = _timed(in_parts, reps)
    start = time.perf_counter()
    with local_cluster(workers) as client:
        client.wait_for_workers(workers)
        out["cluster_start_s"] = time.perf_counter() - start
        if in_parts(client) != reference:  # also the warm-up: workers import the engine
            raise RuntimeError("scaleout: the cluster's counts differ from one process")
        out["cluster"] = _timed(lambda: in_parts(client), reps)
    out["overhead_s"] = out["cluster"]["median_s"] - out["one_process"]["median_s"]
    out["ratio"] = out["cluster"]["median_s"] / out["one_process"]["median_s"]

    snapshot = open_partitioned(parts)
    per_part = []
    for i, path in enumerate(snapshot.part_paths()):
        entry = snapshot.manifest.parts[i]
        job = PartJob(i, str(path), tuple(studies), "histogram", index, entry.content_hash)
        run_part(job)  # warm: the page cache, as on a worker that ran it before
        start = time.perf_counter()
        answer = run_part(job)
        seconds = time.perf_counter() - start
        per_part.append(
            {
                "patients": entry.patients,
                "seconds": seconds,
                "job_bytes": len(pickle.dumps(job)),
                "answer_bytes": len(pickle.dumps(answer)),
            }
        )
    out["per_part"] = per_part
    patients = sum(p["patients"] for p in per_part)
    part_s = statistics.median(p["seconds"] for p in per_part)
    # t(n) = fixed + n x per-patient, through two points: the whole in one process, one part
    whole_s, part_n = out["one_process"]["median_s"], patients / len(per_part)
    if len(per_part) > 1 and whole_s > part_s:
        per_patient = (whole_s - part_s) / (patients - part_n)
    else:
        per_patient = whole_s / max(patients, 1)
    fixed = max(0.0, part_s - per_patient * part_n)
    wave_s = out["cluster"]["median_s"] / math.ceil(parts_n / workers)
    overhead = max(0.0, wave_s - part_s)
    bytes_per_part = statistics.mean(p["job_bytes"] + p["answer_bytes"] for p in per_part)
    out["model_inputs"] = {
        "per_patient_s": per_patient,
        "fixed_part_s": fixed,
        "task_overhead_s": overhead,
        "bytes_per_part": bytes_per_part,
        "patients_per_part": PATIENTS_PER_PART,
        "network_bytes_per_s": NETWORK_BYTES_PER_S,
    }
    out["model"] = scaling_model(
        per_patient_s=per_patient,
        fixed_part_s=fixed,
        task_overhead_s=overhead,
        bytes_per_part=bytes_per_part,
        start_s=out["cluster_start_s"],
    )
    log(
        f"  one process {out['one_process']['median_s']:.2f} s, parts in process "
        f"{out['parts_in_process']['median_s']:.2f} s, cluster of {workers} "
        f"{out['cluster']['median_s']:.2f} s (x{out['ratio']:.2f}; start "
        f"{out['cluster_start_s']:.1f} s); {bytes_per_part / 1024:.0f} KiB per part"
    )
    for name, row in out["model"].items():
        log(f"  model: {name}: {row['total_s']:.1f} s ({row['parts']} parts)")
    return out


def scaleout_section(so: dict[str, Any]) -> list[str]:
    """The ``docs/benchmarks.md`` section of the stage (model assumptions: docs/scale-out.md).

    >>> row = {"median_s": 1.0}
    >>> lines = scaleout_section({"studies": 9, "parts": 4, "workers": 2, "one_process": row,
    ...     "parts_in_process": row, "cluster": {"median_s": 1.5}, "cluster_start_s": 2.0,
    ...     "overhead_s": 0.5, "ratio": 1.5, "model": {}})
    >>> lines[0], lines[-2]
    ('## Scale-out on Dask (one process vs a local cluster)', '| cluster start | 2.00 s |')
    """
    out = [
        "## Scale-out on Dask (one process vs a local cluster)",
        "",
        f"{so['studies']} studies counted over {so['parts']} parts; a local cluster of "
        f"{so['workers']} worker processes; the scaling model and its assumptions are in "
        "[scale-out.md](scale-out.md).",
        "",
        "| run | median |",
        "|---|---|",
        f"| one process, plain snapshot | {so['one_process']['median_s']:.2f} s |",
        f"| partitioned, one process | {so['parts_in_process']['median_s']:.2f} s |",
        f"| local cluster | {so['cluster']['median_s']:.2f} s |",
        f"| overhead of the cluster | {so['overhead_s']:+.2f} s (x{so['ratio']:.2f}) |",
    ]
    for name, row in so["model"].items():
        out.append(f"| model: {name} ({row['parts']} parts) | {row['total_s']:.1f} s |")
    return [*out, f"| cluster start | {so['cluster_start_s']:.2f} s |", ""]


__all__ = ["ensure_partitioned", "scaleout_section", "scaleout_stage", "scaling_model"]
