"""Studies, criteria versions and submissions: the library behind the ``/studies`` routes.

A study belongs to the sponsor who created it; stewards see every study; nobody else sees any.
A submission is one posted criteria file, checked like ``p4dp check``: valid, it becomes a
version (or points to the existing version with the same criteria hash); invalid, it is kept
as a *rejected* submission with its diagnostics and never becomes a version. Each submission
is one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from criteria_dsl.ir_json import from_json, study_hash, to_json
from matcher.api.criteria import check_criteria, diff_studies, report_of
from matcher.api.models import Account, CriteriaVersion, Role, Study, Submission, iso


def create_study(session: Session, owner: Account, name: str) -> Study:
    study = Study(name=name, owner_id=owner.id)
    session.add(study)
    session.commit()
    session.refresh(study)
    return study


def can_see(account: Account, study: Study) -> bool:
    """Owner sponsor or steward."""
    if account.role == Role.STEWARD:
        return True
    return account.role == Role.SPONSOR and study.owner_id == account.id


def visible_study(session: Session, account: Account, study_id: int) -> Study | None:
    """The study if ``account`` may see it, else ``None`` (missing and foreign look alike)."""
    study = session.get(Study, study_id)
    return study if study is not None and can_see(account, study) else None


def visible_studies(session: Session, account: Account) -> list[Study]:
    query = select(Study).order_by(Study.id)
    if account.role != Role.STEWARD:
        query = query.where(Study.owner_id == account.id)
    return list(session.exec(query))


def study_view(session: Session, study: Study) -> dict[str, Any]:
    owner = session.get(Account, study.owner_id)
    versions = session.exec(
        select(func.count())
        .select_from(CriteriaVersion)
        .where(CriteriaVersion.study_id == study.id)
    ).one()
    return {
        "id": study.id,
        "name": study.name,
        "owner": owner.name if owner else None,
        "created_at": iso(study.created_at),
        "versions": versions,
    }


def version_view(version: CriteriaVersion, *, source: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "study_id": version.study_id,
        "number": version.number,
        "criteria_hash": version.criteria_hash,
        "created_at": iso(version.created_at),
    }
    if source:
        out["source"] = version.source
    return out


def submission_view(submission: Submission, version: CriteriaVersion | None) -> dict[str, Any]:
    diagnostics = json.loads(submission.diagnostics_json)
    return {
        "id": submission.id,
        "study_id": submission.study_id,
        "status": submission.status,
        "filename": submission.filename,
        "created_at": iso(submission.created_at),
        "version": version.number if version else None,
        "criteria_hash": version.criteria_hash if version else None,
        "errors": sum(1 for d in diagnostics if d["severity"] == "error"),
        "warnings": sum(1 for d in diagnostics if d["severity"] == "warning"),
        "diagnostics": diagnostics,
    }


@dataclass
class SubmissionOutcome:
    submission: Submission
    version: CriteriaVersion | None
    new_version: bool
    report: dict[str, Any]

    def view(self) -> dict[str, Any]:
        out = submission_view(self.submission, self.version)
        out["new_version"] = self.new_version
        out["ok"] = self.report["ok"]
        return out


def submit(
    session: Session,
    study: Study,
    account: Account,
    text: str,
    filename: str = "criteria.p4dp",
    params: dict[str, str] | None = None,
) -> SubmissionOutcome:
    """Check ``text`` and store the submission (and its version when valid), atomically."""
    result = check_criteria(text, filename, params)
    report = report_of(result)
    for attempt in range(3):
        version, new = None, False
        if result.ok and result.study is not None:
            digest = study_hash(result.study)
            version = session.exec(
                select(CriteriaVersion).where(
                    CriteriaVersion.study_id == study.id, CriteriaVersion.criteria_hash == digest
                )
            ).first()
            if version is None:
                last = session.exec(
                    select(func.max(CriteriaVersion.number)).where(
                        CriteriaVersion.study_id == study.id
                    )
                ).one()
                version = CriteriaVersion(
                    study_id=study.id,
                    number=(last or 0) + 1,
                    criteria_hash=digest,
                    source=result.source,
                    ir_json=to_json(result.study),
                    created_by=account.id,
                )
                session.add(version)
                new = True
        submission = Submission(
            study_id=study.id,
            status="accepted" if version is not None else "rejected",
            filename=filename,
            source=result.source,
            diagnostics_json=json.dumps(report["diagnostics"], ensure_ascii=False),
            created_by=account.id,
        )
        try:
            if version is not None:
                session.flush()
                submission.version_id = version.id
            session.add(submission)
            session.commit()
        except IntegrityError:  # a concurrent submission took that number: count again
            session.rollback()
            if attempt == 2:
                raise
            continue
        session.refresh(submission)
        if version is not None:
            session.refresh(version)
        return SubmissionOutcome(submission, version, new, report)
    raise AssertionError("unreachable")  # pragma: no cover


def versions_of(session: Session, study: Study) -> list[CriteriaVersion]:
    return list(
        session.exec(
            select(CriteriaVersion)
            .where(CriteriaVersion.study_id == study.id)
            .order_by(CriteriaVersion.number)
        )
    )


def version_of(session: Session, study: Study, number: int) -> CriteriaVersion | None:
    return session.exec(
        select(CriteriaVersion).where(
            CriteriaVersion.study_id == study.id, CriteriaVersion.number == number
        )
    ).first()


def submissions_of(session: Session, study: Study) -> list[Submission]:
    return list(
        session.exec(
            select(Submission).where(Submission.study_id == study.id).order_by(Submission.id)
        )
    )


def diff_versions(a: CriteriaVersion, b: CriteriaVersion) -> dict[str, Any]:
    out = diff_studies(from_json(a.ir_json), from_json(b.ir_json))
    return {"from": version_view(a), "to": version_view(b), **out}
