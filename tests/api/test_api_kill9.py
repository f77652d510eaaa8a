"""Issue 14, kill -9: a real server killed at random instants while submissions stream in
loses no acknowledged submission and leaves nothing half-written (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from api_access import EXAMPLE
from sqlmodel import Session, select

from criteria_dsl.check import compile_text
from criteria_dsl.ir_json import study_hash
from matcher.api.accounts import add_account
from matcher.api.audit import verify_audit
from matcher.api.db import make_engine, migrate
from matcher.api.live import start_server, stop_server, wait_healthy
from matcher.api.models import Account, AuditRow, CriteriaVersion, Study, Submission


def _text(i: int) -> str:
    if i % 4 == 3:
        return EXAMPLE.replace("has diagnosis t2d", f"has diagnosis t2d_{i}")  # rejected
    return EXAMPLE.replace("param min_age = 50", f"param min_age = {30 + i % 40}")


@pytest.mark.slow
def test_issue14_kill9_loses_no_acknowledged_submission(api_database_url):
    migrate(api_database_url)
    engine = make_engine(api_database_url)
    with Session(engine) as session:
        token = add_account(session, "sponsor-k", "sponsor").token
        owner = session.exec(select(Account)).one()
        study = Study(name="k9", owner_id=owner.id)
        session.add(study)
        session.commit()
        study_id = study.id
    rng = random.Random(14)
    acknowledged: dict[int, tuple[int, dict]] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    next_i = 0
    for _round in range(3):
        process, url, log = start_server(api_database_url)
        try:
            wait_healthy(url, process)
            stop = threading.Event()

            def stream(url=url, stop=stop) -> None:
                nonlocal next_i
                with httpx.Client(timeout=30) as client:
                    while not stop.is_set():
                        i = next_i
                        try:
                            r = client.post(
                                f"{url}/studies/{study_id}/submissions",
                                content=_text(i),
                                headers={**headers, "Idempotency-Key": f"k{i}"},
                            )
                        except httpx.HTTPError:
                            return  # killed: i is retried after the restart
                        assert r.status_code in (200, 201, 422), r.text
                        acknowledged[i] = (r.status_code, r.json())
                        next_i = i + 1

            worker = threading.Thread(target=stream)
            before = len(acknowledged)
            worker.start()
            deadline = time.monotonic() + 120
            while len(acknowledged) == before and time.monotonic() < deadline:
                time.sleep(0.05)  # at least one answer per life of the server, then a random kill
            time.sleep(rng.uniform(0.0, 1.5))
            stop_server(process, kill=True)
            stop.set()
            worker.join(timeout=60)
        finally:
            stop_server(process, kill=True)
            log.unlink(missing_ok=True)
    assert len(acknowledged) >= 3, "the server acknowledged too few submissions to test"
    with Session(engine) as session:
        subs = {s.id: s for s in session.exec(select(Submission))}
        versions = {v.id: v for v in session.exec(select(CriteriaVersion))}
    for i, (status, body) in acknowledged.items():
        stored = subs.get(body["id"])
        assert stored is not None, f"acknowledged submission {i} lost"
        assert stored.status == ("rejected" if status == 422 else "accepted")
        if status != 422:
            version = versions[stored.version_id]
            assert version.criteria_hash == body["criteria_hash"]
    for sub in subs.values():  # nothing half-written
        assert (sub.status == "accepted") == (sub.version_id is not None)
    numbers = sorted(v.number for v in versions.values())
    assert numbers == list(range(1, len(numbers) + 1))
    for version in versions.values():
        assert study_hash(compile_text(version.source)) == version.criteria_hash
    with Session(engine) as session:
        audited = session.exec(
            select(AuditRow).where(AuditRow.route == "/studies/{study_id}/submissions")
        ).all()
    assert len(audited) >= len(acknowledged), "an answered request has no audit row"
    report = verify_audit(engine)
    assert report.ok, report.problems
    engine.dispose()
