"""Issue 14 item "a run killed after its ledger commit": the retry returns the stored release
and records nothing twice (the release is idempotent per run)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from test_api_runs import init_ledger, study_with_version
from test_api_runs import population as population

from matcher.data.open import open_data
from matcher.disclosure.ledger import Ledger
from matcher.services import run_worker
from matcher.services.run_worker import RunWorker
from matcher.services.runs import recover_stale


class Killed(BaseException):
    """The worker process dies (not an exception the worker handles)."""


def test_issue14_run_killed_after_ledger_commit_is_not_recorded_twice(
    api,
    population,
    tmp_path,
    monkeypatch,
):
    ledger_path = init_ledger(tmp_path / "ledger.sqlite", "budget=5")
    api.settings.ledger = str(ledger_path)
    data = open_data(population)
    sid = study_with_version(api)
    run = api.client("sponsor").post(f"/studies/{sid}/versions/1/runs", json={"by": ["sex"]})
    run_id = run.json()["id"]
    engine = api.app.state.engine

    def die(*_args, **_kwargs):
        raise Killed

    monkeypatch.setattr(run_worker, "finish_run", die)  # dies after the ledger commit
    first = RunWorker(engine, ledger=str(ledger_path), data=data)
    with pytest.raises(Killed):
        first.run_once()
    monkeypatch.undo()
    ledger = Ledger.open(ledger_path)
    assert len(ledger.queries("sponsor-sam")) == 1  # recorded once, result not stored yet
    assert api.client("sponsor").get(f"/runs/{run_id}").json()["status"] == "running"
    assert recover_stale(engine, stale_after=timedelta(0)) == (1, 0)  # queued again
    left_before = ledger.check_budget("sponsor-sam")

    retry = RunWorker(engine, ledger=str(ledger_path), data=data)
    assert retry.run_once() == run_id
    done = api.client("sponsor").get(f"/runs/{run_id}").json()
    assert done["status"] == "done" and done["attempts"] == 2, done
    queries = Ledger.open(ledger_path).queries("sponsor-sam")
    assert len(queries) == 1, "the retry recorded the release a second time"
    assert Ledger.open(ledger_path).check_budget("sponsor-sam") == left_before == 4
    assert done["data_snapshot"] == queries[0].data_snapshot
    assert set(done["result"]["counts"]) >= {"eligible"}
    assert Ledger.open(ledger_path).verify().ok


def test_issue14_two_runs_of_the_same_version_are_two_releases(api, population, tmp_path):
    """The key is the run, not the request: asking again is a new release (and budget)."""
    ledger_path = init_ledger(tmp_path / "ledger.sqlite")
    api.settings.ledger = str(ledger_path)
    sid = study_with_version(api)
    worker = RunWorker(api.app.state.engine, ledger=str(ledger_path), data=open_data(population))
    for _ in range(2):
        api.client("sponsor").post(f"/studies/{sid}/versions/1/runs")
        assert worker.run_once() is not None
    assert len(Ledger.open(ledger_path).queries("sponsor-sam")) == 2
