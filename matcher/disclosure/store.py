"""The query ledger's tables, where the ledger lives, and how it is created and opened.

A ledger is created once, by a steward, with ``p4dp ledger init`` (:func:`create_ledger`): a
SQLite file created with mode 0600 in an existing folder (never a missing folder made up
from a typo), or the tables of an empty PostgreSQL database. Opening a ledger that does not
exist is an error (:func:`open_ledger_engine`): a fresh file would silently bring a fresh
budget and a fresh sketch secret.

    >>> ledger_url("postgresql+psycopg://db/p4dp")
    'postgresql+psycopg://db/p4dp'
    >>> ledger_url("/tmp/x.sqlite")
    'sqlite:////tmp/x.sqlite'
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import Column, Engine, Text, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, Session, SQLModel, create_engine

from matcher.disclosure.sticky import STICKY_TABLES
from matcher.errors import MatcherError

DEFAULT_LEDGER = Path("~/.local/share/p4dp/ledger.sqlite")
LEDGER_ENV = "P4DP_LEDGER"
#: Version of the tables; a ledger of another version is refused with a clear message.
SCHEMA_VERSION = "2"


class LedgerError(MatcherError):
    """The ledger is missing, unreadable, of another version, or was modified by hand."""


class LedgerRequester(SQLModel, table=True):
    """Per-requester state: frozen or not, and who unfroze them."""

    __tablename__ = "ledger_requester"
    requester: str = Field(primary_key=True)
    frozen: bool = False
    frozen_at: datetime | None = None
    frozen_reason: str | None = None
    unfrozen_at: datetime | None = None
    unfrozen_by: str | None = None
    last_seen: datetime | None = None


class LedgerQuery(SQLModel, table=True):
    """One request: a feasibility count (the unit of the budget) or a steward's evaluation."""

    __tablename__ = "ledger_query"
    id: str = Field(primary_key=True)
    kind: str = "count"  # "count", "evaluate" or "candidates" (an issuance of lists)
    requester: str = Field(index=True)
    operator: str = ""  # the platform account that ran the command
    role: str
    study_id: str
    criteria_hash: str
    data_snapshot: str
    eligible_true: int
    policy: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    view: str = ""  # the requester's view options (applied to released values), e.g. rounding=25
    created_at: datetime = Field(index=True)


class LedgerRelease(SQLModel, table=True):
    """One released count."""

    __tablename__ = "ledger_release"
    id: int | None = Field(default=None, primary_key=True)
    query_id: str = Field(foreign_key="ledger_query.id", index=True)
    requester: str = Field(index=True)
    role: str
    study_id: str
    criteria_hash: str
    data_snapshot: str
    what: str
    true_count: int
    released: str  # JSON: a number or the masked label
    released_at: datetime


class LedgerMeta(SQLModel, table=True):
    """Ledger-wide values: the schema version and the head of the hash chain."""

    __tablename__ = "ledger_meta"
    key: str = Field(primary_key=True)
    value: str = Field(sa_column=Column(Text, nullable=False))


class LedgerChain(SQLModel, table=True):
    """One link of the hash chain (:mod:`matcher.disclosure.chain`)."""

    __tablename__ = "ledger_chain"
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str  # init, policy, steward, query, freeze, unfreeze
    ref: str = ""  # the query id or the requester the link is about
    body: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    digest: str  # sha256 of the canonical content (rows of a query, or the body)
    prev: str
    hash: str
    created_at: datetime


LEDGER_TABLES = [
    LedgerMeta.__table__,
    LedgerChain.__table__,
    LedgerRequester.__table__,
    LedgerQuery.__table__,
    LedgerRelease.__table__,
    *STICKY_TABLES,
]


def ledger_url(location: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL of the ledger: ``location``, else ``$P4DP_LEDGER``, else the default.

    A value containing ``://`` is used as a URL; anything else is a SQLite file path.
    """
    value = str(location) if location is not None else os.environ.get(LEDGER_ENV, "")
    if "://" in value:
        return value
    path = Path(value or DEFAULT_LEDGER).expanduser().resolve()
    return f"sqlite:///{path}"


def shown_url(url: str) -> str:
    """The URL for messages, password hidden; a SQLite ledger by its path.

    >>> shown_url("postgresql://u:secret@db/p4dp"), shown_url("sqlite:////srv/l.sqlite")
    ('postgresql://u:***@db/p4dp', '/srv/l.sqlite')
    """
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    try:
        return make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        return "the given location"


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _utc_session(dbapi_connection, _record) -> None:
    """PostgreSQL: every session in UTC, so stored times read back as written."""
    cursor = dbapi_connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    dbapi_connection.commit()


def _engine(url: str) -> Engine:
    connect_args: dict[str, object] = {"timeout": 30} if url.startswith("sqlite") else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise LedgerError(
            f"ledger {shown_url(url)}: cannot be opened ({type(exc).__name__})"
        ) from None
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _utc_session)
    return engine


def _has_tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def create_ledger_engine(location: str | os.PathLike[str] | None = None) -> Engine:
    """Create a new, empty ledger (tables and, for SQLite, the file with mode 0600).

    Refused when the ledger already exists, or (SQLite) when its folder does not exist.
    The caller writes the first link of the chain (:func:`matcher.disclosure.ledger.Ledger.init`).
    """
    url = ledger_url(location)
    path = _sqlite_path(url)
    if path is not None:
        if not path.parent.is_dir():
            raise LedgerError(
                f"ledger {path}: folder {path.parent} does not exist; create it first "
                "(p4dp never creates folders for a ledger)"
            )
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise LedgerError(f"ledger {path}: already exists; nothing was changed") from None
        except OSError as exc:
            raise LedgerError(f"ledger {path}: cannot be created ({exc.strerror})") from None
        os.close(fd)
        os.chmod(path, 0o600)  # whatever the umask
    engine = _engine(url)
    try:
        found = _has_tables(engine) & {t.name for t in LEDGER_TABLES}
        if path is None and found:
            raise LedgerError(
                f"ledger {shown_url(url)}: already exists (tables {', '.join(sorted(found))}); "
                "nothing was changed"
            )
        SQLModel.metadata.create_all(engine, tables=LEDGER_TABLES)
        with Session(engine) as session, session.begin():
            session.add(LedgerMeta(key="schema", value=SCHEMA_VERSION))
    except SQLAlchemyError as exc:
        if path is not None:
            path.unlink(missing_ok=True)
        raise LedgerError(
            f"ledger {shown_url(url)}: cannot be created ({type(exc).__name__})"
        ) from None
    return engine


def open_ledger_engine(location: str | os.PathLike[str] | None = None) -> Engine:
    """Open an existing ledger; a missing one is an error naming ``p4dp ledger init``."""
    url = ledger_url(location)
    path = _sqlite_path(url)
    hint = f"a steward creates it with: p4dp ledger init --ledger {path or shown_url(url)}"
    if path is not None and not path.is_file():
        raise LedgerError(f"ledger {path}: does not exist; {hint}")
    engine = _engine(url)
    try:
        tables = _has_tables(engine)
        if "ledger_meta" not in tables:
            if "ledger_query" in tables:
                raise LedgerError(
                    f"ledger {shown_url(url)}: made by an older p4dp (no hash chain); keep it "
                    f"for the record and start a new one ({hint})"
                )
            raise LedgerError(f"ledger {shown_url(url)}: is not a p4dp ledger; {hint}")
        with Session(engine) as session:
            row = session.get(LedgerMeta, "schema")
    except SQLAlchemyError as exc:
        raise LedgerError(
            f"ledger {shown_url(url)}: cannot be opened ({type(exc).__name__})"
        ) from None
    if row is None or row.value != SCHEMA_VERSION:
        found = row.value if row is not None else "none"
        raise LedgerError(
            f"ledger {shown_url(url)}: schema version {found}, this p4dp reads "
            f"{SCHEMA_VERSION}; it was modified or made by another version"
        )
    return engine


def file_mode_problem(location: str | os.PathLike[str] | None = None) -> str | None:
    """A sentence when a SQLite ledger file is readable by others than its owner."""
    path = _sqlite_path(ledger_url(location))
    if path is None or not path.exists():
        return None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return f"{path}: mode {mode:04o}, readable by others; run chmod 600 {path}"
    return None
