"""The database: one engine per app, one session per request, Alembic migrations.

``migrate(url, "head")`` brings a database to the newest schema (``p4dp db upgrade``),
``migrate(url, "base", down=True)`` removes it (``p4dp db downgrade base``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

MIGRATIONS = Path(__file__).with_name("migrations")
POOL_SIZE = 20
POOL_OVERFLOW = 40
"""Connections per process: enough for every thread of the server's pool (40) to hold one
while the audit row of another request is written."""


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys, and their
    folder is created (mode 0700)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:  # pragma: no cover - trivial
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def alembic_config(url: str):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head", *, down: bool = False) -> None:
    """Upgrade (or with ``down=True`` downgrade) the database at ``url`` to ``revision``."""
    from alembic import command

    config = alembic_config(url)
    if down:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)
    if url.startswith("sqlite") and "///" in url:
        path = Path(url.split("///", 1)[1])
        if path.exists():
            path.chmod(0o600)


def current_revision(url: str) -> str | None:
    """The revision the database is at (``None``: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that is closed after use (the body of the ``get_session`` dependency)."""
    with Session(engine) as session:
        yield session
