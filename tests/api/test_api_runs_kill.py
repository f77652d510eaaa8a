"""Issue 14, kill -9: a real ``p4dp serve`` is killed while it executes feasibility runs and
started again; every acknowledged run is still there and ends done (or failed with a reason),
none is lost or left running, and the released results are whole JSON documents."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from matcher.api.live import start_server, stop_server, wait_healthy
from matcher.cli import main
from matcher.disclosure.ledger import Ledger

EXAMPLE = (Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp").read_text()


def _cli(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code == 0, res.output
    return res.stdout


@pytest.mark.slow
def test_issue14_kill_9_during_runs_loses_no_acknowledged_run(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _cli("synth", "--patients", "3000", "--seed", "42", "--out", str(data))
    ledger = tmp_path / "ledger.sqlite"
    _cli(
        "ledger",
        "init",
        "--ledger",
        str(ledger),
        "--steward",
        "stella",
        "--set",
        "repeat_alert=100",
    )
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    database = f"sqlite:///{tmp_path / 'api.sqlite'}"
    token = _cli("users", "add", "sam", "--role", "sponsor", "--database", database).strip()
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(14)
    acknowledged: list[int] = []
    study = None
    for _round in range(3):
        process, url, log = start_server(database, data=data)
        try:
            wait_healthy(url, process)
            client = httpx.Client(base_url=url, headers=headers, timeout=30)
            if study is None:
                study = client.post("/studies", json={"name": "kill"}).json()["id"]
                r = client.post(
                    f"/studies/{study}/submissions",
                    content=EXAMPLE,
                    headers={"Content-Type": "text/plain"},
                )
                assert r.status_code == 201, r.text
            for _ in range(4):
                r = client.post(f"/studies/{study}/versions/1/runs")
                assert r.status_code == 202, r.text
                acknowledged.append(r.json()["id"])
            time.sleep(rng.uniform(0.05, 1.5))
        finally:
            stop_server(process, kill=True)  # kill -9, at a random instant of the work
            log.unlink(missing_ok=True)
    process, url, log = start_server(database, data=data)
    try:
        wait_healthy(url, process)
        client = httpx.Client(base_url=url, headers=headers, timeout=30)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            runs = {r["id"]: r for r in client.get(f"/studies/{study}/runs").json()}
            if all(runs[i]["status"] in ("done", "failed") for i in acknowledged):
                break
            time.sleep(0.5)
    finally:
        stop_server(process)
        log.unlink(missing_ok=True)
    assert sorted(runs) == sorted(acknowledged)  # nothing lost, nothing invented
    for run in runs.values():
        assert run["status"] in ("done", "failed"), run
        if run["status"] == "done":
            assert run["result"]["study"] and run["result"]["counts"]
        else:
            assert run["error"] and run["error_kind"] == "stale", run
    assert any(r["status"] == "done" for r in runs.values())
    assert Ledger.open(ledger).verify().ok  # the ledger survived the kills whole
