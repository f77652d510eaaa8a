"""Server-side drafts of the criteria editor: the text a sponsor typed but could not save.

One draft per study and sponsor (the latest wins); a successful save deletes it. A draft is
never checked nor counted: it only keeps the text safe when a save fails (the migration
``0004`` makes the table).

    >>> Draft(study_id=1, account_id=2, criteria="study ...").criteria
    'study ...'
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, Session, SQLModel, select


def utcnow() -> datetime:
    return datetime.now(UTC)


MAX_DRAFT = 1 << 20
"""The largest draft kept (characters); the body limit of the service applies first."""


class Draft(SQLModel, table=True):
    __tablename__ = "api_web_draft"
    __table_args__ = (UniqueConstraint("study_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="api_study.id")
    account_id: int = Field(foreign_key="api_account.id")
    criteria: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)


def _find(session: Session, study_id: int, account_id: int) -> Draft | None:
    query = select(Draft).where(Draft.study_id == study_id, Draft.account_id == account_id)
    return session.exec(query).first()


def get_draft(session: Session, study_id: int, account_id: int) -> Draft | None:
    return _find(session, study_id, account_id)


def put_draft(session: Session, study_id: int, account_id: int, criteria: str) -> Draft:
    """Keep ``criteria`` as the draft (replacing the previous one); one transaction."""
    draft = _find(session, study_id, account_id) or Draft(study_id=study_id, account_id=account_id)
    draft.criteria = criteria
    draft.updated_at = utcnow()
    session.add(draft)
    session.commit()
    session.refresh(draft)
    return draft


def delete_draft(session: Session, study_id: int, account_id: int) -> bool:
    draft = _find(session, study_id, account_id)
    if draft is None:
        return False
    session.delete(draft)
    session.commit()
    return True
