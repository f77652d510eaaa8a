"""A benchmark worker: one subprocess holding one configuration, driven over JSON lines.

The driver (:mod:`benchmarks.harness`) starts ``python -m benchmarks.worker``, sends one JSON
command per line on stdin and reads one JSON answer per line. Protocol output goes to the
original stdout; everything else the libraries print goes to stderr.

Commands::

    {"op": "prepare", "task": {...}}   -> {"ok": true, "seconds": ..., "rss_mb": ...}
    {"op": "run", "out": "x.parquet"}  -> {"ok": true, "seconds": ..., "peak_mb": ..., "rows": n}
    {"op": "exit"}

``seconds`` and ``peak_mb`` cover ``task.run()`` only; the result is then normalised (sorted
by pseudonym, the same for every system) and written for the patient-by-patient check.

Each ``run`` resets the kernel's peak-RSS counter first (``/proc/self/clear_refs``), so
``peak_mb`` is the peak of that run (including what the configuration keeps resident).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    from benchmarks.tasks import make_task, normalised

    task: Any = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "exit":
            break
        try:
            if op == "prepare":
                t0 = time.perf_counter()
                task = make_task(cmd["task"])
                info = task.prepare() or {}
                answer = {
                    "ok": True,
                    "seconds": time.perf_counter() - t0,
                    "rss_mb": _status_mb("VmRSS"),
                    "peak_mb": _status_mb("VmHWM"),
                    **info,
                }
            elif op == "run":
                _reset_peak()
                t0 = time.perf_counter()
                output = task.run()
                seconds = time.perf_counter() - t0
                peak_mb, rss_mb = _status_mb("VmHWM"), _status_mb("VmRSS")
                frame = normalised(task, output)  # the same sort for every system: untimed
                del output
                answer = {
                    "ok": True,
                    "seconds": seconds,
                    "peak_mb": peak_mb,
                    "rss_mb": rss_mb,
                    "rows": getattr(frame, "height", None),
                    **getattr(task, "last_info", {}),
                }
                if cmd.get("out") and frame is not None:
                    Path(cmd["out"]).parent.mkdir(parents=True, exist_ok=True)
                    frame.write_parquet(cmd["out"])
                del frame
            else:
                answer = {"ok": False, "error": f"unknown op {op!r}"}
        except BaseException as exc:  # report to the driver, keep serving
            answer = {
                "ok": False,
                "error": f"{type(exc).__name__}: {exc}"[:2000],
                "trace": traceback.format_exc()[-4000:],
                "peak_mb": _status_mb("VmHWM"),
            }
        proto.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    main()
