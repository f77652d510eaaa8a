"""Ledgers for the disclosure tests: a fresh SQLite file, and the real PostgreSQL server.

Tests ask for ``ledger_factory(policy)``; parametrised over both databases, each test gets
empty tables (PostgreSQL: dropped and recreated).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import SQLModel

from matcher.disclosure import DisclosurePolicy
from matcher.disclosure.ledger import LEDGER_TABLES, Ledger, create_ledger_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_factory(request, tmp_path) -> Callable[[DisclosurePolicy], Ledger]:
    def make(policy: DisclosurePolicy) -> Ledger:
        if request.param == "sqlite":
            return Ledger.open(tmp_path / "ledger.sqlite", policy)
        engine = create_ledger_engine(request.getfixturevalue("postgres_url"))
        SQLModel.metadata.drop_all(engine, tables=LEDGER_TABLES)
        SQLModel.metadata.create_all(engine, tables=LEDGER_TABLES)
        return Ledger(engine, policy)

    return make
