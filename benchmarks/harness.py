"""Driving benchmark workers: fresh subprocesses, alternating runs, medians, peak memory.

>>> summarise([3.0, 1.0, 2.0])["median"]
2.0
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.limits import MemoryLimit

ROOT = Path(__file__).resolve().parent.parent


class BenchmarkError(RuntimeError):
    """A configuration failed, or two systems disagreed: the benchmark stops loudly."""


def worker_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env["POLARS_MAX_THREADS"] = str(threads)
    env["P4DP_NO_PROGRESS"] = "1"
    env["NO_COLOR"] = "1"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Worker:
    """One ``python -m benchmarks.worker`` subprocess holding one task."""

    def __init__(
        self, task: dict[str, Any], *, threads: int = 2, memory_limit: MemoryLimit | None = None
    ) -> None:
        self.task = task
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.worker"],
            cwd=ROOT,
            env=worker_env(threads),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=sys.stderr,
            text=True,
            preexec_fn=memory_limit.preexec() if memory_limit is not None else None,
        )
        self.prepared = self.call({"op": "prepare", "task": task})

    def call(self, cmd: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            code = self.proc.wait()
            return {"ok": False, "error": f"worker died (exit status {code})"}
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, out: Path | None = None) -> dict[str, Any]:
        return self.call({"op": "run", "out": str(out) if out else None})

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def checked(answer: dict[str, Any], what: str) -> dict[str, Any]:
    if not answer.get("ok"):
        trace = answer.get("trace", "")
        raise BenchmarkError(f"{what}: {answer.get('error')}\n{trace}")
    return answer


def summarise(values: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": [round(v, 4) for v in values],
    }


@dataclass
class Series:
    """Timings and peak memory of one configuration over repeated runs."""

    name: str
    seconds: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    prepare: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.error is not None or not self.seconds:
            return {"name": self.name, "error": self.error or "no timed run"}
        out = {"name": self.name, **summarise(self.seconds)}
        out["peak_mb"] = max(self.peak_mb) if self.peak_mb else None
        out["prepare_seconds"] = self.prepare.get("seconds")
        out["prepare_peak_mb"] = self.prepare.get("peak_mb")
        keep = ("_seconds", "_mb", "_ms")
        skip = ("peak_mb", "rss_mb", "seconds")
        out.update({k: v for k, v in self.prepare.items() if k.endswith(keep) and k not in skip})
        out.update(self.info)
        for key, values in self.extras.items():
            out[key] = statistics.median(values)
            out[key + "_runs"] = [round(v, 3) for v in values]
        return out


def alternate(
    tasks: dict[str, dict[str, Any]],
    *,
    reps: int,
    warmup: int = 1,
    fresh: bool,
    check_dir: Path | None = None,
    log: Any = print,
) -> dict[str, Series]:
    """Run the configurations in turn (A B C A B C ...), ``warmup`` rounds excluded.

    ``fresh``: a new worker process for every run (cold process, page cache warm), so each
    run's peak RSS is its own; otherwise one worker per configuration stays alive (warm
    configurations) and the runs alternate between them. The first timed run of each
    configuration writes its per-patient frame to ``check_dir`` for the equality check.
    """
    series = {name: Series(name) for name in tasks}
    workers: dict[str, Worker] = {}

    def fail(name: str, exc: BenchmarkError) -> None:
        # a configuration that cannot run is recorded and left out; disagreement still aborts
        series[name].error = str(exc).splitlines()[0][:500]
        log(f"    {name}: FAILED, left out: {series[name].error}")
        if name in workers:
            workers.pop(name).close()

    try:
        if not fresh:
            for name, task in tasks.items():
                workers[name] = Worker(task)
                try:
                    series[name].prepare = checked(workers[name].prepared, f"{name}: prepare")
                except BenchmarkError as exc:
                    fail(name, exc)
        for rnd in range(warmup + reps):
            for name, task in tasks.items():
                if series[name].error is not None:
                    continue
                worker = workers.get(name) or Worker(task)
                try:
                    if fresh:
                        series[name].prepare = checked(worker.prepared, f"{name}: prepare")
                    out = None
                    if check_dir is not None and rnd == warmup:
                        out = check_dir / f"{name}.parquet"
                    answer = checked(worker.run(out), f"{name}: run")
                except BenchmarkError as exc:
                    fail(name, exc)
                    continue
                finally:
                    if fresh:
                        worker.close()
                tag = "warm-up" if rnd < warmup else f"run {rnd - warmup + 1}/{reps}"
                log(
                    f"    {name:<28} {tag:<10} {answer['seconds']:8.3f} s  "
                    f"peak {answer['peak_mb']:8.0f} MiB"
                )
                if rnd >= warmup:
                    series[name].seconds.append(answer["seconds"])
                    series[name].peak_mb.append(answer["peak_mb"])
                    for key, value in answer.items():
                        if key.endswith("_ms"):
                            series[name].extras.setdefault(key, []).append(value)
                    if answer.get("counts"):
                        series[name].info["counts"] = answer["counts"]
    finally:
        for worker in workers.values():
            worker.close()
    return series


def run_command(argv: list[str], *, threads: int = 2, log: Any = print) -> dict[str, Any]:
    """Run a command; wall seconds and the child's peak RSS (``wait4``), or raise."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=worker_env(threads),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise BenchmarkError(f"{' '.join(argv)} failed ({proc.returncode}):\n{output[-3000:]}")
    log(f"    {' '.join(argv[:3])}... {seconds:.1f} s, peak {usage.ru_maxrss / 1024:.0f} MiB")
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024, "output": output[-2000:]}
