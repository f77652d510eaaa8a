"""Which data the service counts on, chosen in its database: switching snapshots while it runs.

``p4dp serve --data DIR`` starts on DIR; a steward (``POST /admin/data``) or an operator
(``p4dp data use SNAP``) later points every process of the service at another snapshot by
adding one row to ``api_data_choice``: the path, the snapshot id, who chose it, how (``http``,
``cli``, ``serve``) and when. Every choice is kept (the table is the history; the HTTP ones are
in the audit log too).

Every process (each server process of ``p4dp serve --workers N``, each ``p4dp worker``) holds
a :class:`DataSource`: before each use it reads the newest choice (one indexed row) and opens
it when it changed. A run takes the data when a worker claims it and keeps it to the end:
runs in progress finish on the data they started with and record that snapshot id; runs
claimed after the switch count on the new one. Nothing is cached across snapshots: a count is
always computed on the data set the run holds.

    >>> from sqlmodel import create_engine
    >>> engine = create_engine("sqlite://")
    >>> create_choice_tables(engine)
    >>> current_choice(engine) is None
    True
    >>> DataSource(engine).current(fallback="raw/")
    'raw/'
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Field, Session, SQLModel, select

from matcher.errors import MatcherError
from matcher.services.persist import insert_detached

CHOICE_WAYS = ("serve", "cli", "http")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DataChoice(SQLModel, table=True):
    """One choice of the service's data (the newest row is the current data)."""

    __tablename__ = "api_data_choice"

    id: int | None = Field(default=None, primary_key=True)
    path: str = Field(max_length=1000)
    snapshot_id: str | None = Field(default=None, max_length=200)
    chosen_by: str = Field(max_length=100)
    via: str = Field(max_length=10)  # serve | cli | http
    note: str = Field(default="", max_length=2000)
    chosen_at: datetime = Field(default_factory=_utcnow)


CHOICE_MODELS: tuple[type[SQLModel], ...] = (DataChoice,)


def create_choice_tables(engine: Engine) -> None:
    """Create the table on ``engine`` (tests; the service uses the Alembic migration)."""
    SQLModel.metadata.create_all(engine, tables=[m.__table__ for m in CHOICE_MODELS])  # type: ignore[attr-defined]


def choice_view(choice: DataChoice) -> dict[str, Any]:
    return {
        "id": choice.id,
        "path": choice.path,
        "snapshot_id": choice.snapshot_id,
        "chosen_by": choice.chosen_by,
        "via": choice.via,
        "note": choice.note,
        "chosen_at": choice.chosen_at.isoformat(),
    }


def current_choice(engine: Engine) -> DataChoice | None:
    """The newest choice, or ``None`` when none was ever made."""
    with Session(engine) as session:
        stmt = select(DataChoice).order_by(DataChoice.id.desc()).limit(1)  # type: ignore[union-attr]
        row = session.exec(stmt).first()
        if row is not None:
            session.expunge(row)
        return row


def choice_history(engine: Engine, limit: int = 100) -> list[DataChoice]:
    """The choices, newest first."""
    with Session(engine) as session:
        stmt = select(DataChoice).order_by(DataChoice.id.desc()).limit(limit)  # type: ignore[union-attr]
        rows = list(session.exec(stmt))
        for row in rows:
            session.expunge(row)
        return rows


def open_choice(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` as the service's data: a snapshot (or a raw data directory).

    Raises :class:`MatcherError` naming the path when it is not one (nothing is recorded).
    """
    from matcher.data.open import open_data

    where = Path(path)
    try:
        if not where.is_dir():
            raise MatcherError(f"data {where}: no such directory; nothing was changed")
        return open_data(where, progress=False)
    except MatcherError as exc:
        if "nothing was changed" in str(exc):
            raise
        raise MatcherError(f"data {where}: {exc}; nothing was changed") from None
    except (OSError, ValueError) as exc:  # unreadable, a NUL in the path...
        raise MatcherError(
            f"data {where}: cannot be opened ({type(exc).__name__}); nothing was changed"
        ) from None


def choose_data(
    engine: Engine,
    path: str | os.PathLike[str],
    *,
    chosen_by: str,
    via: str,
    note: str = "",
    dataset: Any = None,
) -> DataChoice:
    """Check that ``path`` opens as data, then record it as the service's data (committed).

    ``dataset``: ``path`` already opened by the caller (not opened twice).
    """
    if via not in CHOICE_WAYS:
        raise MatcherError(f"data choice: via {via!r}; use one of {', '.join(CHOICE_WAYS)}")
    opened = dataset if dataset is not None else open_choice(path)
    choice = DataChoice(
        path=str(Path(path).resolve()),
        snapshot_id=getattr(opened, "snapshot_id", None),
        chosen_by=chosen_by,
        via=via,
        note=note,
    )
    return insert_detached(engine, choice)


class DataSource:
    """The data of one process: the newest choice of the database, else the process's own.

    :meth:`current` returns an opened data set (the same object while the choice does not
    change); a run keeps the object it got, whatever is chosen meanwhile. A choice that no
    longer opens (its folder was removed) raises :class:`MatcherError`: the process does not
    silently go on counting on older data.
    """

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._choice_id: int | None = None
        self._dataset: Any = None

    def adopt(self, choice_id: int | None, dataset: Any) -> None:
        """``dataset`` is choice ``choice_id``, opened already (by ``p4dp serve --data``)."""
        if choice_id is None:
            return
        with self._lock:
            self._choice_id, self._dataset = choice_id, dataset

    def current(self, fallback: Any = None) -> Any:
        """The data set to count on now: the chosen one, else ``fallback`` (the ``--data`` of
        this process; ``None``: no data at all)."""
        choice = current_choice(self.engine) if self.engine is not None else None
        with self._lock:
            if choice is None:
                return fallback
            if choice.id != self._choice_id:
                self._dataset = open_choice(choice.path)
                self._choice_id = choice.id
            return self._dataset
