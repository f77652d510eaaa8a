"""Issue 14 item "snapshot switch": ``p4dp serve`` is pointed at a new snapshot while it runs,
without losing runs in progress; every choice is recorded; counts follow the data."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlmodel import Session

from matcher.api.accounts import add_account
from matcher.api.db import make_engine, migrate
from matcher.api.live import live_server
from matcher.cli import main
from matcher.data.open import open_data
from matcher.services.run_worker import RunWorker

EXAMPLE_PATH = Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp"
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory) -> dict[str, Path]:
    """Two snapshots of different populations: A (300 patients) and B (500)."""
    from matcher.snapshot import ingest
    from matcher.synth import generate

    root = tmp_path_factory.mktemp("switch")
    out = {}
    for name, patients, seed in (("A", 300, 1), ("B", 500, 2)):
        generate(patients, seed=seed, out=root / f"raw{name}")
        ingest(root / f"raw{name}", root / name, progress=False)
        out[name] = root / name
    return out


def exact_counts(snapshot: Path) -> dict:
    from criteria_dsl import compile_file
    from matcher.engine.evaluate import evaluate

    result = evaluate(compile_file(EXAMPLE_PATH), open_data(snapshot))
    return {"snapshot": result.data_snapshot, "eligible": result.counts.eligible}


def init_ledger(path: Path) -> Path:
    args = ["ledger", "init", "--ledger", str(path), "--steward", "steward-stella"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return path


def wait_for(client: httpx.Client, run_id: int, done, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}").json()
        if done(run):
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not get there in {timeout} s: {run}")


def test_issue14_snapshot_switch_keeps_runs_in_progress_on_their_data(
    api_database_url, snapshots, tmp_path
):
    a, b = exact_counts(snapshots["A"]), exact_counts(snapshots["B"])
    assert a["snapshot"] != b["snapshot"] and a["eligible"] != b["eligible"]
    ledger = init_ledger(tmp_path / "ledger.sqlite")
    migrate(api_database_url)
    engine = make_engine(api_database_url)
    with Session(engine) as session:
        sponsor = add_account(session, "sponsor-sam", "sponsor").token
        steward = add_account(session, "steward-stella", "steward").token
    engine.dispose()
    extra = ("--ledger", str(ledger))  # the option, not $P4DP_LEDGER
    with live_server(api_database_url, data=snapshots["A"], extra=extra) as url:
        sc = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {sponsor}"})
        st = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {steward}"})
        sid = sc.post("/studies", json={"name": "T2D"}).json()["id"]
        r = sc.post(f"/studies/{sid}/submissions", content=EXAMPLE_PATH.read_text(), headers=TEXT)
        assert r.status_code == 201, r.text
        first = st.get("/admin/data").json()
        assert first["current"]["via"] == "serve"
        assert first["current"]["snapshot_id"] == a["snapshot"]
        # Hold the ledger's write lock: run 1 evaluates on A, then waits to record.
        lock = sqlite3.connect(ledger, timeout=30)
        lock.execute("BEGIN IMMEDIATE")
        try:
            run1 = st.post(f"/studies/{sid}/versions/1/runs").json()["id"]
            wait_for(st, run1, lambda run: run["phase"].startswith("counting"))
            switched = st.post("/admin/data", json={"path": str(snapshots["B"]), "note": "Dec"})
            assert switched.status_code == 201, switched.text
            assert switched.json()["snapshot_id"] == b["snapshot"]
            assert switched.json()["chosen_by"] == "steward-stella"
            run2 = st.post(f"/studies/{sid}/versions/1/runs").json()["id"]
            assert st.get(f"/runs/{run1}").json()["status"] == "running"  # still in progress
        finally:
            lock.rollback()
            lock.close()
        finished = lambda run: run["status"] in ("done", "failed")  # noqa: E731
        done1, done2 = wait_for(st, run1, finished), wait_for(st, run2, finished)
        assert done1["status"] == done2["status"] == "done", (done1, done2)
        assert done1["data_snapshot"] == a["snapshot"] == done1["result"]["data_snapshot"]
        assert done1["result"]["counts"]["eligible"] == a["eligible"]
        assert done2["data_snapshot"] == b["snapshot"] == done2["result"]["data_snapshot"]
        assert done2["result"]["counts"]["eligible"] == b["eligible"]
        history = st.get("/admin/data").json()["history"]
        assert [(h["via"], h["snapshot_id"]) for h in history] == [
            ("http", b["snapshot"]),
            ("serve", a["snapshot"]),
        ]
        assert sc.get("/admin/data").status_code == 403
        refused = st.post("/admin/data", json={"path": str(tmp_path / "missing")})
        assert refused.status_code == 422 and "nothing was changed" in refused.json()["detail"]
        assert len(st.get("/admin/data").json()["history"]) == 2
        audit = st.get("/audit", params={"limit": 1000}).json()
        posts = [row for row in audit if row["route"] == "/admin/data" and row["method"] == "POST"]
        assert sorted(row["status"] for row in posts) == [201, 422]
    from matcher.disclosure.ledger import Ledger

    recorded = sorted(q.data_snapshot for q in Ledger.open(ledger).queries())
    assert recorded == sorted([a["snapshot"], b["snapshot"]])


def test_issue14_p4dp_data_use_switches_the_workers_of_a_database(api_sqlite, snapshots, tmp_path):
    api = api_sqlite
    ledger = init_ledger(tmp_path / "ledger.sqlite")
    api.settings.ledger = str(ledger)
    api.settings.data = open_data(snapshots["A"])
    worker = RunWorker(api.app.state.engine, ledger=str(ledger), data=api.settings.data)
    steward = api.client("steward")
    sid = api.client("sponsor").post("/studies", json={"name": "T2D"}).json()["id"]
    api.client("sponsor").post(
        f"/studies/{sid}/submissions", content=EXAMPLE_PATH.read_text(), headers=TEXT
    )
    url = str(api.app.state.engine.url)
    res = CliRunner().invoke(
        main, ["data", "use", str(snapshots["B"]), "--database", url, "--note", "December"]
    )
    assert res.exit_code == 0, res.output
    b = exact_counts(snapshots["B"])
    assert b["snapshot"] in res.output
    run = steward.post(f"/studies/{sid}/versions/1/runs").json()["id"]
    assert worker.run_once() == run
    done = steward.get(f"/runs/{run}").json()
    assert done["data_snapshot"] == b["snapshot"]
    assert done["result"]["counts"]["eligible"] == b["eligible"]
    current = steward.get("/admin/data").json()["current"]
    assert (current["via"], current["note"]) == ("cli", "December")
    bad = CliRunner().invoke(main, ["data", "use", str(tmp_path), "--database", url])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "nothing was changed" in bad.output
