"""Issue 14 item "rate limits hold across server processes": the buckets are in the database,
so every process of ``p4dp serve --workers N`` (and every server on one database) spends the
same per-account budget."""

from __future__ import annotations

import httpx
from api_harness import make_harness
from fastapi.testclient import TestClient
from sqlmodel import Session

from matcher.api import ApiSettings, create_app
from matcher.api.accounts import add_account
from matcher.api.db import make_engine, migrate
from matcher.api.live import live_server


def test_issue14_rate_limit_is_shared_by_two_apps_on_one_database(api_database_url):
    first = make_harness(api_database_url, rate_limit_per_minute=4)
    second = create_app(ApiSettings(database_url=api_database_url, rate_limit_per_minute=4))
    token = first.tokens["sponsor"]
    other = TestClient(second, headers={"Authorization": f"Bearer {token}"})
    mine = first.client("sponsor")
    codes = [c.get("/studies").status_code for c in (mine, other, mine, other, mine, other)]
    assert codes == [200, 200, 200, 200, 429, 429]
    assert first.client("steward").get("/studies").status_code == 200  # per account
    first.app.state.engine.dispose()
    second.state.engine.dispose()


def test_issue14_rate_limit_holds_across_the_processes_of_serve_workers(tmp_path):
    database = str(tmp_path / "api.sqlite")
    url = f"sqlite:///{database}"
    migrate(url)
    engine = make_engine(url)
    with Session(engine) as session:
        token = add_account(session, "sponsor-sam", "sponsor").token
    engine.dispose()
    with live_server(database, extra=("--workers", "2", "--rate-limit", "6")) as base:
        codes = []
        for _ in range(10):  # a new connection each time: the kernel spreads them
            codes.append(
                httpx.get(
                    base + "/studies", headers={"Authorization": f"Bearer {token}"}
                ).status_code
            )
    assert codes.count(200) == 6 and codes.count(429) == 4, codes
    assert codes[:6] == [200] * 6
