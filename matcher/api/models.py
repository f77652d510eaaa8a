"""The service's tables (SQLModel). The schema itself is made by the Alembic migrations in
``matcher/api/migrations``: a table added here needs a migration too (a test compares them).

Times are aware UTC datetimes (:func:`utcnow`); :func:`iso` writes them ``...Z``.

    >>> Role("sponsor") is Role.SPONSOR
    True
    >>> sorted(r.value for r in Role)
    ['admin', 'physician', 'sponsor', 'steward']
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from matcher.services.run_store import RUN_MODELS


def utcnow() -> datetime:
    """Now, in UTC (what every table stores)."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-12-07T11:38:25Z`` (a time without zone is read as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Role(StrEnum):
    SPONSOR = "sponsor"
    PHYSICIAN = "physician"
    STEWARD = "steward"
    ADMIN = "admin"


class Account(SQLModel, table=True):
    """A person or program that calls the API; ``token_hash`` is the SHA-256 of its token."""

    __tablename__ = "api_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, max_length=100)
    role: str = Field(max_length=20)
    practice: str | None = Field(default=None, max_length=100)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Study(SQLModel, table=True):
    """A sponsor's study: criteria versions and submissions hang off it."""

    __tablename__ = "api_study"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    owner_id: int = Field(foreign_key="api_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)


class CriteriaVersion(SQLModel, table=True):
    """An immutable criteria version, identified by the IR hash (``study_hash``)."""

    __tablename__ = "api_criteria_version"
    __table_args__ = (
        UniqueConstraint("study_id", "number", name="uq_version_number"),
        UniqueConstraint("study_id", "criteria_hash", name="uq_version_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="api_study.id", index=True)
    number: int
    criteria_hash: str = Field(max_length=80)
    source: str
    ir_json: str
    created_by: int = Field(foreign_key="api_account.id")
    created_at: datetime = Field(default_factory=utcnow)


class Submission(SQLModel, table=True):
    """One posted criteria file, accepted (``version_id`` set) or rejected (errors kept)."""

    __tablename__ = "api_submission"

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="api_study.id", index=True)
    status: str = Field(max_length=20)  # accepted | rejected
    filename: str = Field(max_length=200)
    source: str
    diagnostics_json: str
    version_id: int | None = Field(default=None, foreign_key="api_criteria_version.id")
    created_by: int = Field(foreign_key="api_account.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditRow(SQLModel, table=True):
    """One request: who, role, scope, route, object, decision, time; hash-chained."""

    __tablename__ = "api_audit"

    seq: int = Field(primary_key=True)
    at: datetime
    who: str = Field(max_length=100)
    role: str = Field(max_length=20)
    scope: str = Field(max_length=100)
    method: str = Field(max_length=10)
    route: str = Field(max_length=200)
    object: str = Field(max_length=200)
    status: int
    decision: str = Field(max_length=20)
    prev: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditHead(SQLModel, table=True):
    """The last audit link (one row, ``key='head'``): a deleted last row shows."""

    __tablename__ = "api_audit_head"

    key: str = Field(primary_key=True, max_length=20)
    seq: int
    hash: str = Field(max_length=64)


class IdempotencyRecord(SQLModel, table=True):
    """A POST made with an ``Idempotency-Key``: the request's hash, then its response."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("owner", "key", name="uq_idempotency_key"),)

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=64)
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    state: str = Field(max_length=10)  # pending | done
    status: int | None = None
    headers_json: str | None = None
    body: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


from matcher.api.models_lists import LIST_MODELS  # noqa: E402  (tables of approvals and lists)
from matcher.api.ratelimit import RATE_MODELS  # noqa: E402  (the shared rate-limit buckets)
from matcher.services.data_choice import CHOICE_MODELS  # noqa: E402  (the data choices)
from matcher.web.drafts import Draft  # noqa: E402  (the web editor's drafts)

API_MODELS: tuple[type[SQLModel], ...] = (
    Account,
    Study,
    CriteriaVersion,
    Submission,
    AuditRow,
    AuditHead,
    IdempotencyRecord,
    *RUN_MODELS,
    *LIST_MODELS,
    *CHOICE_MODELS,
    *RATE_MODELS,
    Draft,
)
"""Every table of the service (the migrations must create exactly these, see the tests)."""
