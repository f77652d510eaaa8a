"""Issue 14: ``p4dp serve --workers N``: several processes share the database; the audit chain
stays whole when they append concurrently."""

from __future__ import annotations

import threading

import httpx
import pytest
from api_access import EXAMPLE
from sqlmodel import Session

from matcher.api.accounts import add_account
from matcher.api.audit import verify_audit
from matcher.api.db import make_engine, migrate
from matcher.api.live import live_server


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_issue14_workers_share_the_database_and_one_audit_chain(api_database_url, workers):
    """16 concurrent clients (more than the default connection pool held: every request
    failed once its connections ran out), on one process and on two."""
    migrate(api_database_url)
    engine = make_engine(api_database_url)
    with Session(engine) as session:
        token = add_account(session, "sponsor-w", "sponsor").token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain"}
    codes: list[int] = []
    with live_server(api_database_url, extra=("--workers", workers)) as url:

        def client() -> None:
            with httpx.Client(timeout=60) as c:
                for _ in range(2):
                    codes.append(
                        c.post(url + "/validate", content=EXAMPLE, headers=headers).status_code
                    )
                    codes.append(c.get(url + "/studies", headers=headers).status_code)

        threads = [threading.Thread(target=client) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert codes == [200] * 64
    report = verify_audit(engine)
    assert report.ok, report.problems
    assert report.rows >= 60  # every request, and the health checks of the start
    engine.dispose()
