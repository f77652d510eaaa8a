"""Latency of feasibility runs and list downloads through the real HTTP service (loopback).

Starts ``p4dp serve`` on 127.0.0.1 with its worker thread on a synthetic population, then
measures, as a sponsor, POST run → result available (polled every 20 ms), and as a physician
the download of a signed list. Prints p50/p95 in milliseconds. A few minutes on a laptop:

    python benchmarks/api_runs_latency.py --patients 20000 --runs 20 --downloads 200
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


def p4dp(*args: str, env: dict[str, str]) -> str:
    out = subprocess.run(["p4dp", *args], env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def spread(values: list[float]) -> str:
    return f"p50 {pct(values, 0.5):.0f} ms, p95 {pct(values, 0.95):.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--downloads", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="p4dp-api-bench-"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env |= {"P4DP_LEDGER": str(tmp / "ledger.sqlite"), "DATABASE_URL": str(tmp / "api.sqlite")}
    env["P4DP_SIGNING_KEY"] = str(tmp / "keys" / "platform-signing.key")
    p4dp(
        "synth",
        "--patients",
        str(args.patients),
        "--seed",
        "42",
        "--out",
        str(tmp / "data"),
        env=env,
    )
    p4dp(
        "ledger",
        "init",
        "--steward",
        "stella",
        "--set",
        "budget=100000",
        "--set",
        "repeat_alert=100000",
        env=env,
    )
    p4dp("keys", "init", "--out", str(tmp / "keys"), env=env)
    sponsor = p4dp("users", "add", "sam", "--role", "sponsor", env=env)
    steward = p4dp("users", "add", "stella", "--role", "steward", env=env)
    server = subprocess.Popen(
        [
            "p4dp",
            "serve",
            "--data",
            str(tmp / "data"),
            "--port",
            str(args.port),
            "--rate-limit",
            "100000",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        s = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {sponsor}"}, timeout=120)
        st = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {steward}"}, timeout=120
        )
        sid = s.post("/studies", json={"name": "bench"}).json()["id"]
        text = (ROOT / "examples" / "t2d_glp1.p4dp").read_text()
        s.post(f"/studies/{sid}/submissions", content=text, headers={"Content-Type": "text/plain"})
        total, executing = [], []
        for _ in range(args.runs):
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
        st.post(f"/studies/{sid}/versions/1/approval")
        lists = st.post(f"/studies/{sid}/versions/1/lists").json()
        biggest = max(lists, key=lambda x: x["eligible"] + x["possibly_eligible"])
        doctor = p4dp(
            "users", "add", "dr", "--role", "physician", "--practice", biggest["practice"], env=env
        )
        d = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {doctor}"})
        downloads = []
        for _ in range(args.downloads):
            t0 = time.perf_counter()
            body = d.get(f"/lists/{biggest['id']}").content
            downloads.append((time.perf_counter() - t0) * 1000)
        n = biggest["eligible"] + biggest["possibly_eligible"]
        print(f"population {args.patients} patients, {args.runs} runs, {args.downloads} downloads")
        print(f"run, POST to result (poll 20 ms): {spread(total)}")
        print(f"run, worker execution:           {spread(executing)}")
        print(
            f"list download ({n} candidates, {len(body)} bytes): p50 {pct(downloads, 0.5):.1f} ms,"
            f" p95 {pct(downloads, 0.95):.1f} ms, mean {statistics.mean(downloads):.1f} ms"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
