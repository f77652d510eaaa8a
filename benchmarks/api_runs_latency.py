"""Latency of feasibility runs and list downloads through the real HTTP service (loopback).

Starts ``p4dp serve`` on 127.0.0.1 with its worker thread on a synthetic population, then
measures, as a sponsor, POST run → result available (polled every 20 ms), a what-if on the
last run (``POST /runs/{id}/what-if``, recomputed from its histogram, no scan), and as a
physician the download of a signed list. Prints p50/p95 in milliseconds. A few minutes on a
laptop:

    python benchmarks/api_runs_latency.py --patients 20000 --runs 20 --downloads 200
    python benchmarks/api_runs_latency.py --data /srv/snap-1m --runs 5 --no-lists
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.latency_table import spread  # noqa: E402


def p4dp(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(["p4dp", *args], env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def measure_runs(
    *,
    data: Path | None,
    patients: int,
    runs: int,
    downloads: int,
    lists: bool = True,
    port: int | None = None,
    what_ifs: int = 0,
) -> list[str]:
    """Start ``p4dp serve`` on ``data`` (else a synthetic population of ``patients``) and
    measure runs (sponsor, POST to result) and, with ``lists``, list downloads; the lines of
    the report."""
    from matcher.api.live import free_port

    port = port or free_port()
    tmp = Path(tempfile.mkdtemp(prefix="p4dp-api-bench-"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env |= {"DATABASE_URL": str(tmp / "api.sqlite")}
    ledger, key = tmp / "ledger.sqlite", tmp / "keys" / "platform-signing.key"
    if data is None:
        data = tmp / "data"
        p4dp("synth", "--patients", str(patients), "--seed", "42", "--out", str(data), env=env)
    budget = ("--set", "budget=100000", "--set", "repeat_alert=100000")
    p4dp("ledger", "init", "--ledger", str(ledger), "--steward", "stella", *budget, env=env)
    p4dp("keys", "init", "--out", str(tmp / "keys"), env=env)
    sponsor = p4dp("users", "add", "sam", "--role", "sponsor", env=env)
    steward = p4dp("users", "add", "stella", "--role", "steward", env=env)
    serve = ["p4dp", "serve", "--data", str(data), "--port", str(port)]
    serve += ["--rate-limit", "100000", "--ledger", str(ledger), "--signing-key", str(key)]
    server = subprocess.Popen(serve, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    lines = []
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        s = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {sponsor}"}, timeout=600)
        st = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {steward}"}, timeout=600
        )
        sid = s.post("/studies", json={"name": "bench"}).json()["id"]
        text = (ROOT / "examples" / "t2d_glp1.p4dp").read_text()
        s.post(f"/studies/{sid}/submissions", content=text, headers={"Content-Type": "text/plain"})
        total, executing = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            run = s.post(f"/studies/{sid}/versions/1/runs").json()
            while (got := s.get(f"/runs/{run['id']}").json())["status"] not in ("done", "failed"):
                time.sleep(0.02)
            total.append((time.perf_counter() - t0) * 1000)
            assert got["status"] == "done", got
            from datetime import datetime

            started = datetime.fromisoformat(got["started_at"])
            finished = datetime.fromisoformat(got["finished_at"])
            executing.append((finished - started).total_seconds() * 1000)
        lines.append(f"data {data}, {runs} runs, snapshot {got['data_snapshot']}")
        lines.append(f"run, POST to result (poll 20 ms): {spread(total)}")
        lines.append(f"run, worker execution:           {spread(executing)}")
        if what_ifs:
            lines.append(measure_what_ifs(s, run["id"], what_ifs))
        if lists:
            st.post(f"/studies/{sid}/versions/1/approval")
            made = st.post(f"/studies/{sid}/versions/1/lists")
            assert made.status_code == 201, made.text
            biggest = max(made.json(), key=lambda x: x["eligible"] + x["possibly_eligible"])
            doctor = p4dp(
                "users",
                "add",
                "dr",
                "--role",
                "physician",
                "--practice",
                biggest["practice"],
                env=env,
            )
            d = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {doctor}"})
            took = []
            for _ in range(downloads):
                t0 = time.perf_counter()
                body = d.get(f"/lists/{biggest['id']}").content
                took.append((time.perf_counter() - t0) * 1000)
            n = biggest["eligible"] + biggest["possibly_eligible"]
            lines.append(
                f"list download ({n} candidates, {len(body)} bytes, {downloads} times): "
                f"{spread(took)}, mean {statistics.mean(took):.1f} ms"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    return lines


WHAT_IFS = (
    {"without": ["insulin"]},
    {"order": ["diabetes", "adult"], "without": ["incretin"]},
    {"order": ["ckd", "type1"]},
    {"without": ["adult", "cv_risk"]},
)


def measure_what_ifs(client: httpx.Client, run_id: int, n: int) -> str:
    """``n`` what-ifs of run ``run_id`` (bodies in turn from :data:`WHAT_IFS`): the report line."""
    took = []
    for i in range(n):
        t0 = time.perf_counter()
        r = client.post(f"/runs/{run_id}/what-if", json=WHAT_IFS[i % len(WHAT_IFS)])
        took.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, r.text
    return f"what-if, POST to answer ({n} times, no scan): {spread(took)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=None, help="data or snapshot to serve")
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--no-lists", action="store_true", help="skip lists and downloads")
    parser.add_argument("--what-ifs", type=int, default=0, help="what-ifs on the last run")
    args = parser.parse_args()
    lines = measure_runs(
        data=args.data,
        patients=args.patients,
        runs=args.runs,
        downloads=args.downloads,
        lists=not args.no_lists,
        what_ifs=args.what_ifs,
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
