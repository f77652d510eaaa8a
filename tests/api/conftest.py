"""Fixtures of the API tests: an app on a fresh database (SQLite, and PostgreSQL when
``P4DP_TEST_POSTGRES_URL`` is set), accounts of every role and a client per account.

    def test_something(api):                    # an ApiHarness
        r = api.client("sponsor").get("/studies")
        api.client("other_sponsor"), api.client("physician"), api.client(None)  # no token
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlmodel import Session

from matcher.api import ApiSettings, create_app
from matcher.api.accounts import add_account
from matcher.api.db import make_engine

ACCOUNTS = {
    # fixture name: (account name, role, practice)
    "sponsor": ("sponsor-sam", "sponsor", None),
    "other_sponsor": ("sponsor-olga", "sponsor", None),
    "physician": ("dr-pia", "physician", "P001"),
    "other_physician": ("dr-paul", "physician", "P002"),
    "steward": ("steward-stella", "steward", None),
    "admin": ("admin-ada", "admin", None),
}


def empty_postgres(url: str) -> None:
    """Drop every table of the test database (the API's and Alembic's)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in inspect(connection).get_table_names():
            if table.startswith("api_") or table == "alembic_version":
                connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def api_database_url(request, tmp_path) -> str:
    """A database URL with nothing in it: a new SQLite file, or the emptied PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'api.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    empty_postgres(url)
    return url


@dataclass
class ApiHarness:
    """An app, its settings and one token per entry of :data:`ACCOUNTS`."""

    app: FastAPI
    settings: ApiSettings
    tokens: dict[str, str] = field(default_factory=dict)
    _clients: dict[str | None, TestClient] = field(default_factory=dict)

    def client(self, who: str | None) -> TestClient:
        """A client authenticated as ``who`` (a key of ACCOUNTS), ``None``: no token."""
        if who not in self._clients:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
            self._clients[who] = TestClient(self.app, headers=headers)
        return self._clients[who]

    def session(self) -> Session:
        return Session(self.app.state.engine)

    def add_account(self, key: str, name: str, role: str, practice: str | None = None) -> str:
        with self.session() as session:
            self.tokens[key] = add_account(session, name, role, practice).token
        return self.tokens[key]


def make_harness(url: str, **settings) -> ApiHarness:
    app = create_app(ApiSettings(database_url=url, **settings))
    harness = ApiHarness(app, app.state.settings)
    for key, (name, role, practice) in ACCOUNTS.items():
        harness.add_account(key, name, role, practice)
    return harness


@pytest.fixture
def api(api_database_url) -> Iterator[ApiHarness]:
    harness = make_harness(api_database_url)
    yield harness
    for client in harness._clients.values():
        client.close()
    harness.app.state.engine.dispose()


@pytest.fixture
def api_sqlite(tmp_path) -> Iterator[ApiHarness]:
    """The harness on SQLite only (for tests of limits and timings)."""
    harness = make_harness(f"sqlite:///{tmp_path / 'api.sqlite'}")
    yield harness
    harness.app.state.engine.dispose()
