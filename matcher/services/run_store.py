"""The feasibility-run table: one row per run, from queued to done or failed.

A run is what a sponsor or a steward asks of a study version: its criteria (the DSL text or
the IR JSON), who asks (``requester``, the account name, which is also the ledger's
requester), in which role, and the query options (``--by``, ``--order``, ``--without``,
``--index-date``, view options) as JSON. A worker (:mod:`matcher.services.runs`) claims it,
keeps a heartbeat while it counts, and stores the released result in the JSON shape of
``p4dp count --format json``. Nothing in a row is patient-level: the result holds only
released (disclosure-controlled) numbers, and an error only a refusal or an exception's type.

Times are UTC datetimes with their time zone.

    >>> RunStatus.QUEUED.value, sorted(s.value for s in FINISHED)
    ('queued', ['done', 'failed'])
    >>> FeasibilityRun(criteria="study S1", requester="ana").status
    'queued'
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Now, in UTC (the table's times carry their time zone)."""
    return datetime.now(UTC)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


FINISHED = frozenset({RunStatus.DONE, RunStatus.FAILED})


class FeasibilityRun(SQLModel, table=True):
    """One feasibility run (see the module docstring).

    ``attempts`` counts claims; a run whose worker stopped beating is queued again while
    ``attempts < max_attempts``, else failed with ``error_kind='stale'``. ``claimed_by`` and
    ``attempts`` together identify one claim: a worker writes its result only while both
    still match (a worker presumed dead cannot overwrite a retry's result).
    """

    __tablename__ = "api_feasibility_run"
    __table_args__ = (Index("ix_api_feasibility_run_status_id", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int | None = Field(default=None, index=True)
    version_id: int | None = Field(default=None, index=True)
    criteria: str = Field(sa_column=Column(Text, nullable=False))
    criteria_format: str = Field(default="dsl", max_length=10)  # dsl | ir
    requester: str = Field(index=True, max_length=100)
    role: str = Field(default="sponsor", max_length=20)
    options_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default=RunStatus.QUEUED.value, max_length=10)
    phase: str = Field(default="queued", max_length=100)
    progress: float = 0.0
    attempts: int = 0
    max_attempts: int = 3
    claimed_by: str | None = Field(default=None, max_length=200)
    heartbeat_at: datetime | None = None
    result_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    data_snapshot: str | None = Field(default=None, max_length=200)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_kind: str | None = Field(default=None, max_length=20)
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RunHistogram(SQLModel, table=True):
    """A finished run's outcome histogram (:mod:`matcher.services.run_histogram`): patients
    per ``(rule_bits, unknown_bits, breakdown categories)``, aggregate only, never returned
    raw; what-ifs are recomputed from it (:mod:`matcher.services.whatif`) on the run's own
    data snapshot, without a new scan."""

    __tablename__ = "api_run_histogram"

    run_id: int = Field(primary_key=True, foreign_key="api_feasibility_run.id")
    data_snapshot: str = Field(max_length=200)
    histogram_json: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


RUN_MODELS: tuple[type[SQLModel], ...] = (FeasibilityRun, RunHistogram)
"""The tables of the run queue (the migration creates exactly these)."""


def create_run_tables(engine) -> None:  # type: ignore[no-untyped-def]
    """Create the run tables on ``engine``, and the data-choice table a worker reads (tests and
    scratch databases; the service uses the Alembic migrations)."""
    from matcher.services.data_choice import CHOICE_MODELS

    tables = [m.__table__ for m in (*RUN_MODELS, *CHOICE_MODELS)]  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(engine, tables=tables)
