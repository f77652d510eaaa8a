"""The ``cli`` stage: what a user runs, end to end, in fresh processes, beside DuckDB.

Each row is one fresh process, timed from outside: wall seconds, CPU seconds (user + system,
of the process and its children: fairer than wall time on a shared machine) and peak RSS.

* ``duckdb``: the study's hand-written DuckDB query on the raw Parquet files (process start,
  DuckDB import, the query);
* ``count raw first``: ``p4dp count STUDY --data RAW`` with an empty validation cache (full
  validation, then evaluation, disclosure control and the ledger record);
* ``count raw second``: the same again (the directory is unchanged: validation is skipped);
* ``count snapshot``: ``p4dp count STUDY --data SNAPSHOT`` (when a snapshot is given).

Run it alone with ``python -m benchmarks.cli --data RAW [--snapshot SNAP] --study FILE``;
``make bench`` runs it in its ``cli`` stage. ``PYTHONPATH=OTHER_CHECKOUT`` measures another
version of the code with the same command.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_DUCKDB = """
import sys
from benchmarks.tasks import DuckDBTask
task = DuckDBTask({"study": sys.argv[1], "source": "raw", "data": sys.argv[2], "threads": 2})
task.prepare()
print(task.run().height)
"""


def timed(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``command``: its wall and CPU seconds (user + system) and peak RSS (MiB)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            tail = err.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{' '.join(command)} failed:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_mb": round(usage.ru_maxrss / 1024),
    }


def cli_rows(
    study: Path, raw: Path, snapshot: Path | None = None, *, work: Path | None = None
) -> list[dict[str, Any]]:
    """The rows of the ``cli`` stage (see the module docstring), in the order run."""
    work = work or Path(tempfile.mkdtemp(prefix="p4dp-bench-cli-"))
    ledger = work / "ledger.sqlite"
    env = dict(os.environ)
    env["P4DP_VALIDATION_CACHE"] = str(work / "validated")
    env["P4DP_LEDGER"] = str(ledger)
    env["POLARS_MAX_THREADS"] = env.get("POLARS_MAX_THREADS", "2")
    python = sys.executable
    p4dp = [python, "-c", _P4DP]
    if not ledger.exists():
        init = [*p4dp, "ledger", "init", "--ledger", str(ledger), "--set", "budget=100000"]
        subprocess.run(init, env=env, check=True, capture_output=True)
    count = [*p4dp, "count", str(study), "--requester", "bench", "--format", "json"]
    rows = [{"what": "duckdb", **timed([python, "-c", _DUCKDB, str(study), str(raw)], env)}]
    rows.append({"what": "count raw first", **timed([*count, "--data", str(raw)], env)})
    rows.append({"what": "count raw second", **timed([*count, "--data", str(raw)], env)})
    if snapshot is not None:
        rows.append({"what": "count snapshot", **timed([*count, "--data", str(snapshot)], env)})
    return rows


def cli_section(rows: list[dict[str, Any]]) -> list[str]:
    """The report's table of the ``cli`` stage (markdown lines).

    >>> cli_section([{"what": "duckdb", "wall_s": 2.0, "cpu_s": 3.0, "peak_mb": 500},
    ...              {"what": "count raw first", "wall_s": 4.0, "cpu_s": 6.0, "peak_mb": 900}])[4]
    '| count raw first | 4.00 | 6.00 | 2.00× | 900 |'
    """
    duck = next((r["cpu_s"] for r in rows if r["what"] == "duckdb"), None)
    lines = [
        "## End to end: `p4dp count` in a fresh process",
        "",
        "| run | wall s | CPU s (user + sys) | CPU vs DuckDB | peak MiB |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['cpu_s'] / duck:.2f}×" if duck else "—"
        lines.append(
            f"| {row['what']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} | {ratio} "
            f"| {row['peak_mb']:.0f} |"
        )
    return [*lines, ""]


_P4DP = "import sys; from matcher.cli import main; sys.argv[0] = 'p4dp'; main()"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="raw data directory")
    parser.add_argument("--snapshot", type=Path, help="a snapshot of the same data")
    parser.add_argument("--study", type=Path, default=Path("examples/t2d_glp1.p4dp"))
    args = parser.parse_args(argv)
    for row in cli_rows(args.study, args.data, args.snapshot):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
