"""Fixtures of the API tests: an app on a fresh database (SQLite, and PostgreSQL when
``P4DP_TEST_POSTGRES_URL`` is set), accounts of every role and a client per account.

    def test_something(api):                    # an ApiHarness
        r = api.client("sponsor").get("/studies")
        api.client("other_sponsor"), api.client("physician"), api.client(None)  # no token
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_harness import ApiHarness, make_harness
from sqlalchemy import inspect, text

from matcher.api.db import make_engine


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
