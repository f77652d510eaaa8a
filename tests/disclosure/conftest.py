"""Ledgers for the disclosure tests: a fresh SQLite file, and the real PostgreSQL server.

Tests ask for ``ledger_factory(policy)``; parametrised over both databases, each test gets a
ledger made by :meth:`Ledger.init` on empty tables (PostgreSQL: dropped first). Its stewards
are ``steward-sam`` and the account running the tests.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import SQLModel, create_engine

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.ledger import LEDGER_TABLES, Ledger
from matcher.services.identity import operator_name

STEWARDS = ("steward-sam", operator_name())


def fresh_postgres(url: str) -> None:
    """Drop every ledger table of the test database."""
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine, tables=LEDGER_TABLES)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_location(request, tmp_path) -> str:
    """Where a new ledger may be created: a SQLite path, or the emptied PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.sqlite")
    url = request.getfixturevalue("postgres_url")
    fresh_postgres(url)
    return url


@pytest.fixture
def ledger_factory(ledger_location) -> Callable[[DisclosurePolicy], Ledger]:
    def make(policy: DisclosurePolicy) -> Ledger:
        return Ledger.init(ledger_location, policy, stewards=STEWARDS, created_by="steward-sam")

    return make
