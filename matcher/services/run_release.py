"""A run's release, kept in the query ledger with the run's key: a retried run never records
twice.

A worker can die after the ledger committed a run's release but before the service stored the
result (a kill, a lost database connection). The run is then queued again; counting it again
would spend the sponsor's budget twice and record a second release of the same request. So the
worker gives each run a key (:func:`run_key`) and, in the same ledger transaction as the
release, stores the released result under it (table ``ledger_run_release``, in the ledger's
own database: committed with the release or not at all). A retry finds it and returns it,
counting and recording nothing. Two workers racing on one run cannot both record: the second
insert of the key fails and rolls its whole transaction back.

The stored result is what the requester was shown (released numbers only), never a true count.

    >>> from datetime import datetime
    >>> run_key(7, datetime(2026, 12, 7, 13, 0, 1, 5))
    'api-run:7:20261207T130001.000005'
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, Session, SQLModel


class RunRelease(SQLModel, table=True):
    """The released result of one run, keyed by :func:`run_key` (in the ledger database)."""

    __tablename__ = "ledger_run_release"

    run_key: str = Field(primary_key=True, max_length=200)
    result_json: str = Field(sa_column=Column(Text, nullable=False))
    notes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    data_snapshot: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class StoredRelease:
    result_json: str
    notes: list[str]
    data_snapshot: str | None


def run_key(run_id: int, created_at: datetime) -> str:
    """The key of one run of one service database (its id and creation time)."""
    return f"api-run:{run_id}:{created_at.strftime('%Y%m%dT%H%M%S.%f')}"


def ensure_release_table(ledger: Any) -> None:
    """Create ``ledger_run_release`` in the ledger's database when it is not there yet."""
    SQLModel.metadata.create_all(ledger.engine, tables=[RunRelease.__table__], checkfirst=True)  # type: ignore[attr-defined]


def stored_release(ledger: Any, key: str) -> StoredRelease | None:
    """The release stored for ``key``, or ``None`` (the run was never recorded)."""
    with Session(ledger.engine) as session:
        row = session.get(RunRelease, key)
        if row is None:
            return None
        return StoredRelease(row.result_json, json.loads(row.notes_json), row.data_snapshot)


def store_release(session: Session, key: str, release: StoredRelease) -> None:
    """Add the release of ``key`` to ``session`` (the ledger transaction of the release)."""
    session.add(
        RunRelease(
            run_key=key,
            result_json=release.result_json,
            notes_json=json.dumps(release.notes, ensure_ascii=False),
            data_snapshot=release.data_snapshot,
        )
    )
    session.flush()  # a second insert of the key fails here, inside the transaction
