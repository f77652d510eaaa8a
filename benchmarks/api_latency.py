"""Latency of the HTTP service: validation of a 200-line criteria file and term search,
in-process (ASGI test client) and over loopback (a real ``p4dp serve``), the throughput of
validations with 16 concurrent clients over loopback, and, with ``--data`` (or
``--patients``), feasibility runs and list downloads through a real server
(:func:`api_runs_latency.measure_runs`). Not part of the test suite.

Validation is measured twice: *new text* (each request a different file, as an editor sends
after each change: the report is computed) and *same text* (served from the report cache).
The CPU time of the library call is printed too: on a busy machine wall times are inflated by
the other processes, CPU time much less.

Usage::

    .venv/bin/python benchmarks/api_latency.py [--repeat 100] [--seconds 10]
    .venv/bin/python benchmarks/api_latency.py --data /work/data/snap-1m --runs 3 --no-lists
    .venv/bin/python benchmarks/api_latency.py --patients 20000 --runs 10 --downloads 100
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.latency_table import latency_table, p50_p95  # noqa: E402

EXAMPLE = REPO / "examples" / "t2d_glp1.p4dp"
RULE_FORMS = (
    "age at index >= {n}",
    "has diagnosis t2d within {n} months before index",
    "at least 2 prescriptions of metformin within {n} months before index",
    "latest lab loinc 4548-4 within {n} months before index >= 7.0 %",
    "has diagnosis cv_disease or age at index >= {n}",
)
QUERIES = (
    "diabete type 2",
    "HTA",
    "insuffisance cardiaque",
    "metformine",
    "E11.9",
    "bpco",
    "asthme",
    "hba1c",
    "fibrillation auriculaire",
    "depression",
)


def criteria_file(lines: int = 200) -> str:
    """The T2D example grown to ``lines`` lines with more inclusion rules (valid)."""
    text = EXAMPLE.read_text()
    head, _, rest = text.partition("inclusion\n")
    extra: list[str] = []
    while head.count("\n") + rest.count("\n") + 1 + len(extra) < lines:
        i = len(extra)
        extra.append(f"  extra_{i}: " + RULE_FORMS[i % len(RULE_FORMS)].format(n=12 + i % 40))
    return head + "inclusion\n" + "\n".join(extra) + "\n" + rest


def variant(text: str, i: int) -> str:
    """``text`` with its first extra rule renamed: a new file of the same length."""
    return text.replace("  extra_0:", f"  extra_0_v{i}:", 1)


def library_cpu(text: str, repeat: int) -> tuple[float, float]:
    """p50/p95 CPU time (ms) of :func:`validation_report` on ``repeat`` new texts."""
    from matcher.api.criteria import validation_report

    samples = []
    for i in range(repeat):
        body = variant(text, 10**6 + i)
        start = time.process_time()
        validation_report(body)
        samples.append(time.process_time() - start)
    return p50_p95(samples)


def server_pid(url: str) -> int:
    """The process listening on ``url``'s port (the ``p4dp serve`` just started)."""
    port = int(url.rsplit(":", 1)[1])
    inode = None
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # LISTEN
                inode = fields[9]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == f"socket:[{inode}]":
                    return int(pid)
    raise RuntimeError(f"no process listens on {url}")


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(call, repeat: int) -> tuple[float, float]:
    call()  # warm
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = call()
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return p50_p95(samples)


def throughput(url: str, token: str, body: str, clients: int, seconds: float) -> float:
    import httpx

    done = [0] * clients
    stop = time.monotonic() + seconds

    def worker(i: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
            while time.monotonic() < stop:
                text = variant(body, 1000 * (i + 1) + done[i])  # new texts: no cache hit
                r = c.post(url + "/validate", content=text, headers={"Content-Type": "text/plain"})
                assert r.status_code == 200
                done[i] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", default="1,2", help="server processes to try, e.g. 1,2,4")
    parser.add_argument("--data", type=Path, default=None, help="also runs and lists on DATA")
    parser.add_argument("--patients", type=int, default=0, help="also runs on a synthetic one")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--downloads", type=int, default=50)
    parser.add_argument("--no-lists", action="store_true")
    args = parser.parse_args()

    import httpx
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from matcher.api import ApiSettings, create_app
    from matcher.api.accounts import add_account
    from matcher.api.live import live_server

    body = criteria_file(200)
    tmp = Path(tempfile.mkdtemp())
    database = f"sqlite:///{tmp / 'api.sqlite'}"
    app = create_app(ApiSettings(database_url=database, rate_limit_per_minute=10**9))
    with Session(app.state.engine) as session:
        token = add_account(session, "bench", "sponsor").token
    auth = {"Authorization": f"Bearer {token}"}
    text = {**auth, "Content-Type": "text/plain"}
    from matcher.api.warmup import prepare_process

    prepare_process()  # as `p4dp serve` does before its first request
    rows = [
        ("validate 200 lines, new text, CPU time", "library call", *library_cpu(body, args.repeat))
    ]
    fresh = iter(range(10**9))
    with TestClient(app) as c:
        rows.append(
            (
                "validate 200 lines, new text",
                "in-process",
                *timed(
                    lambda: c.post("/validate", content=variant(body, next(fresh)), headers=text),
                    args.repeat,
                ),
            )
        )
        rows.append(
            (
                "validate 200 lines, same text",
                "in-process",
                *timed(lambda: c.post("/validate", content=body, headers=text), args.repeat),
            )
        )
        queries = iter(QUERIES * (args.repeat + 1))
        rows.append(
            (
                "term search",
                "in-process",
                *timed(
                    lambda: c.get("/terms", params={"q": next(queries)}, headers=auth), args.repeat
                ),
            )
        )
    with live_server(database, extra=("--rate-limit", str(10**9))) as url, httpx.Client() as c:
        server = server_pid(url)
        cpu_before = process_cpu(server)
        rows.append(
            (
                "validate 200 lines, new text",
                "loopback",
                *timed(
                    lambda: c.post(
                        url + "/validate", content=variant(body, next(fresh)), headers=text
                    ),
                    args.repeat,
                ),
            )
        )
        server_cpu = (process_cpu(server) - cpu_before) / (args.repeat + 1) * 1000
        rows.append(
            (
                "validate 200 lines, same text",
                "loopback",
                *timed(lambda: c.post(url + "/validate", content=body, headers=text), args.repeat),
            )
        )
        queries = iter(QUERIES * (args.repeat + 1))
        rows.append(
            (
                "term search",
                "loopback",
                *timed(
                    lambda: c.get(url + "/terms", params={"q": next(queries)}, headers=auth),
                    args.repeat,
                ),
            )
        )
        rates = {1: throughput(url, token, body, 16, args.seconds)}
    for workers in (int(w) for w in args.workers.split(",")):
        if workers == 1:
            continue
        extra = ("--rate-limit", str(10**9), "--workers", str(workers))
        with live_server(database, extra=extra) as url:
            rates[workers] = throughput(url, token, body, 16, args.seconds)
    print(latency_table(rows))
    print()
    print(
        f"server CPU per new-text validation over loopback (mean of {args.repeat + 1}): "
        f"{server_cpu:.1f} ms"
    )
    print()
    for workers, rate in rates.items():
        print(
            f"validations/s, 16 concurrent clients over loopback, {workers} worker(s): {rate:.1f}"
        )
    print(f"(machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f})")
    if args.data is not None or args.patients:
        from benchmarks.api_runs_latency import measure_runs

        print()
        lines = measure_runs(
            data=args.data,
            patients=args.patients,
            runs=args.runs,
            downloads=args.downloads,
            lists=not args.no_lists,
        )
        print("\n".join(lines))
        print(f"(load average after the runs {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
