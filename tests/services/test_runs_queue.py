"""Issue 14, feasibility runs: the durable queue (exclusive claims with two workers, stale
runs retried then failed with a reason, queued runs resume after a restart, budget refused
at submission with a retry delay), on SQLite and on PostgreSQL when it is available."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import SQLModel, create_engine

from matcher.api.db import make_engine as make_queue_engine
from matcher.cli import main
from matcher.disclosure.ledger import Ledger
from matcher.services.run_store import RUN_MODELS, RunStatus, create_run_tables, utcnow
from matcher.services.run_worker import RunWorker
from matcher.services.runs import (
    RunBudgetError,
    beat,
    check_run_budget,
    claim_next,
    fail_run,
    finish_run,
    get_run,
    recover_stale,
    submit_run,
)


def _tables():
    return [m.__table__ for m in RUN_MODELS]  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", "postgresql"])
def queue_url(request, tmp_path) -> str:
    """A database URL with empty run tables."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    else:
        url = request.getfixturevalue("postgres_url")
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        engine = create_engine(url)
        SQLModel.metadata.drop_all(engine, tables=_tables())
        engine.dispose()
    engine = make_queue_engine(url)
    create_run_tables(engine)
    engine.dispose()
    return url


@pytest.fixture
def queue_engine(queue_url) -> Engine:
    engine = make_queue_engine(queue_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    """2,000 synthetic patients (``p4dp synth --seed 42``)."""
    out = tmp_path_factory.mktemp("runs-data") / "data"
    res = CliRunner().invoke(
        main, ["synth", "--patients", "2000", "--seed", "42", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture
def ledger_path(tmp_path) -> Path:
    path = tmp_path / "ledger.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path)])
    assert res.exit_code == 0, res.output
    return path


STUDY = """\
study "RUNS-1" version 1
index date 2024-06-15

codes t2d = icd10 E11 and descendants

inclusion
  adult:    age at index >= 18
  diabetes: has diagnosis t2d
"""


def test_issue14_claim_is_exclusive_with_two_workers(queue_url):
    """Two workers (two engines, as two processes) race for 30 runs: each run is claimed once."""
    engines = [make_queue_engine(queue_url) for _ in range(2)]
    ids = [submit_run(engines[0], criteria=STUDY, requester="ana").id for _ in range(30)]
    claims: dict[str, list[int]] = {"w0": [], "w1": []}
    start = threading.Barrier(2)

    def work(name: str, engine) -> None:
        start.wait()
        while (claim := claim_next(engine, worker=name)) is not None:
            claims[name].append(claim.run_id)

    threads = [threading.Thread(target=work, args=(f"w{i}", e)) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = claims["w0"] + claims["w1"]
    assert sorted(got) == ids  # every run claimed, none twice
    for run_id in ids:
        run = get_run(engines[0], run_id)
        assert run.status == RunStatus.RUNNING and run.attempts == 1
        assert run.claimed_by in ("w0", "w1")
    for e in engines:
        e.dispose()


def test_issue14_stale_run_is_retried_then_failed_with_a_reason(queue_engine):
    run = submit_run(queue_engine, criteria=STUDY, requester="ana", max_attempts=2)
    first = claim_next(queue_engine, worker="dead-1")
    later = utcnow() + timedelta(seconds=120)
    # a fresh heartbeat is not stale
    assert recover_stale(queue_engine, stale_after=timedelta(seconds=600), now=later) == (0, 0)
    assert recover_stale(queue_engine, stale_after=timedelta(seconds=60), now=later) == (1, 0)
    again = get_run(queue_engine, run.id)
    assert again.status == RunStatus.QUEUED and "stopped responding" in again.phase
    # the dead worker's late result is refused: its claim is gone
    assert not finish_run(queue_engine, first, result_json="{}", notes=[], data_snapshot=None)
    second = claim_next(queue_engine, worker="dead-2")
    assert second.attempt == 2
    assert recover_stale(queue_engine, stale_after=timedelta(seconds=60), now=later) == (0, 1)
    failed = get_run(queue_engine, run.id)
    assert failed.status == RunStatus.FAILED and failed.error_kind == "stale"
    assert "stopped responding" in failed.error and "nothing was released" in failed.error
    assert not beat(queue_engine, second)


def test_issue14_queued_runs_resume_after_a_restart(queue_url, synth_data, ledger_path):
    """Runs queued by one process are executed by a worker of a new process (new engine)."""
    before = make_queue_engine(queue_url)
    ids = [submit_run(before, criteria=STUDY, requester="ana").id for _ in range(2)]
    before.dispose()  # the server stops
    after = make_queue_engine(queue_url)
    worker = RunWorker(after, ledger=ledger_path, data=synth_data, name="restarted")
    assert [worker.run_once(), worker.run_once(), worker.run_once()] == [*ids, None]
    for run_id in ids:
        run = get_run(after, run_id)
        assert run.status == RunStatus.DONE, run.error
        assert run.progress == 1.0 and run.data_snapshot
        assert json.loads(run.result_json)["study"] == "RUNS-1"
    assert len(Ledger.open(ledger_path).queries("ana")) == 2
    after.dispose()


def test_issue14_run_result_is_the_json_of_p4dp_count(
    queue_engine, synth_data, ledger_path, tmp_path
):
    """Same request through the queue and through ``p4dp count``: the same released JSON."""
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(STUDY, encoding="utf-8")
    options = {"by": ["sex"], "without": ["adult"]}
    run = submit_run(queue_engine, criteria=STUDY, requester="ana", options=options)
    RunWorker(queue_engine, ledger=ledger_path, data=synth_data).run_once()
    stored = json.loads(get_run(queue_engine, run.id).result_json)
    res = CliRunner().invoke(
        main,
        [
            "count",
            str(criteria),
            "--data",
            str(synth_data),
            "--format",
            "json",
            "--by",
            "sex",
            "--without",
            "adult",
            "--ledger",
            str(ledger_path),
            "--requester",
            "ana",
        ],
    )
    assert res.exit_code == 0, res.output
    assert stored == json.loads(res.stdout)
    assert stored["counts"]["eligible"] != 0  # a real count, not an empty study


def test_issue14_refusals_fail_the_run_with_their_reason(queue_engine, synth_data, ledger_path):
    bad = submit_run(
        queue_engine, criteria='study "X" version 1\ninclusion\n  a: nonsense', requester="ana"
    )
    practice = submit_run(
        queue_engine, criteria=STUDY, requester="ana", options={"by": ["practice"]}
    )
    worker = RunWorker(queue_engine, ledger=ledger_path, data=synth_data)
    worker.run_once(), worker.run_once()
    failed = get_run(queue_engine, bad.id)
    assert failed.status == RunStatus.FAILED and failed.error_kind == "criteria"
    assert "line 3" in failed.error or ":3:" in failed.error
    refused = get_run(queue_engine, practice.id)
    assert refused.status == RunStatus.FAILED and refused.error_kind == "refused"
    assert "practice" in refused.error
    assert Ledger.open(ledger_path).queries("ana") == []  # nothing counted


def test_issue14_budget_counts_queued_runs_and_says_when_to_retry(queue_engine, tmp_path):
    path = tmp_path / "small.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path), "--set", "budget=2"])
    assert res.exit_code == 0, res.output
    ledger = Ledger.open(path)
    assert check_run_budget(queue_engine, ledger, requester="ana", role="sponsor") == 2
    submit_run(queue_engine, criteria=STUDY, requester="ana")
    submit_run(queue_engine, criteria=STUDY, requester="ana")
    with pytest.raises(RunBudgetError) as info:
        check_run_budget(queue_engine, ledger, requester="ana", role="sponsor")
    assert 6 * 86400 < info.value.retry_after <= 7 * 86400 + 1
    assert "2 are queued" in str(info.value)
    # another sponsor, and stewards, are not affected
    assert check_run_budget(queue_engine, ledger, requester="bob", role="sponsor") == 2
    assert check_run_budget(queue_engine, ledger, requester="ana", role="steward") > 2


def test_issue14_over_budget_at_execution_fails_with_the_ledger_reason(
    queue_engine, synth_data, tmp_path
):
    path = tmp_path / "one.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path), "--set", "budget=1"])
    assert res.exit_code == 0, res.output
    runs = [submit_run(queue_engine, criteria=STUDY, requester="ana") for _ in range(2)]
    worker = RunWorker(queue_engine, ledger=path, data=synth_data)
    worker.run_once(), worker.run_once()
    assert get_run(queue_engine, runs[0].id).status == RunStatus.DONE
    second = get_run(queue_engine, runs[1].id)
    assert second.status == RunStatus.FAILED and second.error_kind == "budget"
    assert "1 of 1" in second.error


def test_issue14_failed_claim_writes_nothing_after_it_is_lost(queue_engine):
    submit_run(queue_engine, criteria=STUDY, requester="ana")
    claim = claim_next(queue_engine, worker="w")
    assert fail_run(queue_engine, claim, kind="refused", message="no")
    assert not fail_run(queue_engine, claim, kind="refused", message="twice")
    assert get_run(queue_engine, claim.run_id).error == "no"


def test_issue14_unknown_options_are_refused(queue_engine):
    from matcher.errors import MatcherError

    with pytest.raises(MatcherError, match="unknown colour"):
        submit_run(queue_engine, criteria=STUDY, requester="ana", options={"colour": 1})


def test_issue14_p4dp_worker_once_executes_the_queue(tmp_path, synth_data, ledger_path):
    """The worker executes the queue, on a database it first upgrades to the newest schema
    (a worker may start before the server, or after an upgrade of p4dp)."""
    from alembic.script import ScriptDirectory

    from matcher.api.db import alembic_config, current_revision, migrate

    db = tmp_path / "api.sqlite"
    migrate(f"sqlite:///{db}", "0003")  # a schema older than the data choices (0004)
    engine = make_queue_engine(f"sqlite:///{db}")
    run = submit_run(engine, criteria=STUDY, requester="ana")
    args = ["worker", "--once", "--database", str(db), "--data", str(synth_data)]
    res = CliRunner().invoke(main, [*args, "--ledger", str(ledger_path)])
    assert res.exit_code == 0, res.output
    assert "Executed 1 run(s)" in res.output
    assert get_run(engine, run.id).status == RunStatus.DONE
    newest = ScriptDirectory.from_config(alembic_config(f"sqlite:///{db}")).get_current_head()
    assert current_revision(f"sqlite:///{db}") == newest != "0003"
    missing = CliRunner().invoke(main, [*args, "--ledger", str(tmp_path / "none.sqlite")])
    assert missing.exit_code == 1 and "Traceback" not in missing.output
    engine.dispose()


def test_issue14_restart_requeues_at_once_the_runs_of_a_dead_local_process(queue_engine):
    import socket
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    host = socket.gethostname()
    dead, alive = f"{host}:{gone.pid}:aa", f"other-host:{gone.pid}:bb"
    runs = [submit_run(queue_engine, criteria=STUDY, requester="ana") for _ in range(2)]
    claim_next(queue_engine, worker=dead)
    claim_next(queue_engine, worker=alive)  # another machine's worker: left to its heartbeat
    worker = RunWorker(queue_engine, ledger=None, data=None)
    assert worker.release_dead_local_claims() == (1, 0)
    assert get_run(queue_engine, runs[0].id).status == RunStatus.QUEUED
    assert get_run(queue_engine, runs[1].id).status == RunStatus.RUNNING
