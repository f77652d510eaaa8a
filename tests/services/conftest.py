"""Fixtures of the run-queue tests: a queue database (a fresh SQLite file, and the real
PostgreSQL server when ``P4DP_TEST_POSTGRES_URL`` is set), a small synthetic population and a
ledger made by ``p4dp ledger init`` whose steward is the account running the tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine
from sqlmodel import SQLModel, create_engine

from matcher.cli import main
from matcher.services.run_store import RUN_MODELS, create_run_tables
from matcher.services.run_worker import make_queue_engine


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
