"""Tables of approvals, candidate lists and feedback (the migration ``0003`` makes them).

* :class:`Approval`: a steward's approval of one criteria version (one per version);
* :class:`CandidateListRecord`: one signed list for one practice, kept byte for byte as it
  was signed (``document``); its exact counts are for stewards only;
* :class:`FeedbackRecord`: a practice's feedback document on one list (counts only).

None of them holds patient-level data: a list holds practice tokens, which only the practice
can map back to its patients.

    >>> Approval(study_id=1, version_id=2, approved_by=3).note
    ''
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class Approval(SQLModel, table=True):
    __tablename__ = "api_approval"

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="api_study.id", index=True)
    version_id: int = Field(foreign_key="api_criteria_version.id", unique=True)
    approved_by: int = Field(foreign_key="api_account.id")
    note: str = Field(default="", max_length=2000)
    approved_at: datetime = Field(default_factory=_now)


class CandidateListRecord(SQLModel, table=True):
    __tablename__ = "api_candidate_list"

    id: int | None = Field(default=None, primary_key=True)
    list_id: str = Field(unique=True, max_length=100)
    study_id: int = Field(foreign_key="api_study.id", index=True)
    version_id: int = Field(foreign_key="api_criteria_version.id", index=True)
    practice: str = Field(index=True, max_length=100)
    eligible: int
    possibly_eligible: int
    without_token: int = 0
    data_snapshot: str = Field(max_length=200)
    issued: str = Field(max_length=40)
    expires: str = Field(max_length=40)
    signing_key_id: str = Field(max_length=100)
    document: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_by: int = Field(foreign_key="api_account.id")
    created_at: datetime = Field(default_factory=_now)


class FeedbackRecord(SQLModel, table=True):
    __tablename__ = "api_feedback"

    id: int | None = Field(default=None, primary_key=True)
    list_pk: int = Field(foreign_key="api_candidate_list.id", index=True)
    study_id: int = Field(foreign_key="api_study.id", index=True)
    practice: str = Field(max_length=100)
    document: str = Field(sa_column=Column(Text, nullable=False))
    created_by: int = Field(foreign_key="api_account.id")
    created_at: datetime = Field(default_factory=_now)


LIST_MODELS: tuple[type[SQLModel], ...] = (Approval, CandidateListRecord, FeedbackRecord)
