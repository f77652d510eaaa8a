"""Approvals, candidate lists and feedback: the library behind their routes (no FastAPI here).

A steward approves a criteria version (:func:`approve`) after reading its explanation and its
exact counts (:func:`approval_queue`: the latest steward run of the version). Only then can
lists be generated (:func:`generate_lists`): the version is evaluated on the service's data
and :func:`matcher.candidates.build.build_lists` signs one list per practice with the platform
key; each is stored byte for byte as served to that practice's physicians. Re-identification
never happens here: a list carries practice tokens that only the practice can map back.
Physicians post feedback on their practice's lists (:func:`add_feedback`); sponsors and
stewards read the study's funnel (:func:`study_funnel`) under the disclosure policy.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher.api.models import Account, CriteriaVersion, Role, Study
from matcher.api.models_lists import Approval, CandidateListRecord, FeedbackRecord
from matcher.errors import MatcherError
from matcher.services.run_store import FeasibilityRun


class ListStateError(MatcherError):
    """Asked out of order: approve twice, lists before approval, feedback on another list."""


def approval_of(session: Session, version: CriteriaVersion) -> Approval | None:
    return session.exec(select(Approval).where(Approval.version_id == version.id)).first()


def approval_view(approval: Approval) -> dict[str, Any]:
    return {
        "study_id": approval.study_id,
        "version_id": approval.version_id,
        "approved_by": approval.approved_by,
        "note": approval.note,
        "approved_at": approval.approved_at.isoformat(),
    }


def approve(session: Session, steward: Account, version: CriteriaVersion, note: str) -> Approval:
    """Record the approval of ``version`` (one per version; a second is refused)."""
    if approval_of(session, version) is not None:
        raise ListStateError("this version is already approved")
    approval = Approval(
        study_id=version.study_id, version_id=version.id, approved_by=steward.id, note=note
    )
    session.add(approval)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ListStateError("this version is already approved") from None
    session.refresh(approval)
    return approval


def _exact_counts(session: Session, version: CriteriaVersion) -> dict[str, Any] | None:
    """The counts of the latest finished steward run of ``version`` (exact), if any."""
    run = session.exec(
        select(FeasibilityRun)
        .where(
            FeasibilityRun.version_id == version.id,
            FeasibilityRun.role == "steward",
            FeasibilityRun.status == "done",
        )
        .order_by(FeasibilityRun.id.desc())  # type: ignore[union-attr]
    ).first()
    if run is None or not run.result_json:
        return None
    result = json.loads(run.result_json)
    return {"run_id": run.id, "data_snapshot": run.data_snapshot, "counts": result["counts"]}


def approval_queue(session: Session) -> list[dict[str, Any]]:
    """Versions waiting for approval, oldest first, each with its explanation and exact
    counts (``null`` until a steward ran it: ``POST .../runs`` as a steward)."""
    from criteria_dsl.explain import explain
    from criteria_dsl.ir_json import from_json

    approved = select(Approval.version_id)
    versions = session.exec(
        select(CriteriaVersion)
        .where(CriteriaVersion.id.not_in(approved))  # type: ignore[union-attr]
        .order_by(CriteriaVersion.id)
    ).all()
    out = []
    for version in versions:
        study = session.get(Study, version.study_id)
        out.append(
            {
                "study_id": version.study_id,
                "study_name": study.name if study else None,
                "version": version.number,
                "criteria_hash": version.criteria_hash,
                "explanation": explain(from_json(version.ir_json)),
                "exact": _exact_counts(session, version),
            }
        )
    return out


def generate_lists(
    session: Session,
    *,
    steward: Account,
    version: CriteriaVersion,
    data: Any,
    signing_key: Any,
    ledger: Any,
    practices: Sequence[str] | None = None,
    validity: dt.timedelta = dt.timedelta(days=30),
) -> list[CandidateListRecord]:
    """Evaluate an approved version and store one signed list per practice with candidates.

    The lists are issued by :func:`matcher.candidates.issue.issue_candidate_lists`, as by
    ``p4dp candidates issue``: the steward's account must be a steward of ``ledger``, and the
    issuance is recorded there exactly as the CLI records it.
    """
    from criteria_dsl.ir_json import from_json
    from matcher.candidates.issue import issue_candidate_lists
    from matcher.data.open import open_data

    if approval_of(session, version) is None:
        raise ListStateError("a steward must approve this version before any list exists")
    issuance = issue_candidate_lists(
        study=from_json(version.ir_json),
        dataset=open_data(data),
        out=None,  # the documents go to the database below, not to files
        signing_key=signing_key,
        ledger=ledger,
        operator=steward.name,
        practices=practices or None,
        validity=validity,
    )
    records = []
    for item in issuance.outcome.lists:
        doc = item.document
        records.append(
            CandidateListRecord(
                list_id=item.list_id,
                study_id=version.study_id,
                version_id=version.id,
                practice=item.practice_id,
                eligible=item.eligible,
                possibly_eligible=item.possibly_eligible,
                without_token=item.without_token,
                data_snapshot=str(doc["data_snapshot"]),
                issued=str(doc["issued"]),
                expires=str(doc["expires"]),
                signing_key_id=signing_key.key_id,
                document=(json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode(),
                created_by=steward.id,
            )
        )
    session.add_all(records)
    session.commit()
    for record in records:
        session.refresh(record)
    return records


def list_view(record: CandidateListRecord, *, exact: bool) -> dict[str, Any]:
    """A list's metadata; the candidate counts only for stewards (``exact``)."""
    view: dict[str, Any] = {
        "id": record.id,
        "list_id": record.list_id,
        "study_id": record.study_id,
        "version_id": record.version_id,
        "practice": record.practice,
        "data_snapshot": record.data_snapshot,
        "issued": record.issued,
        "expires": record.expires,
        "signing_key_id": record.signing_key_id,
    }
    if exact:
        view |= {
            "eligible": record.eligible,
            "possibly_eligible": record.possibly_eligible,
            "without_token": record.without_token,
        }
    return view


def may_read_list(account: Account, record: CandidateListRecord) -> bool:
    """Stewards, and the physicians of the list's practice; nobody else."""
    if account.role == Role.STEWARD:
        return True
    return account.role == Role.PHYSICIAN and account.practice == record.practice


def lists_of_practice(session: Session, practice: str) -> list[CandidateListRecord]:
    query = select(CandidateListRecord).where(CandidateListRecord.practice == practice)
    return list(session.exec(query.order_by(CandidateListRecord.id)))


def add_feedback(
    session: Session, physician: Account, record: CandidateListRecord, doc: Any
) -> FeedbackRecord:
    """Check a ``p4dp-feedback`` document against its list and store it."""
    from matcher.candidates.feedback import parse_feedback

    feedback = parse_feedback(doc, source="feedback")
    listed = json.loads(record.document)
    expected = {
        "list_id": record.list_id,
        "practice_id": record.practice,
        "study_id": listed["study_id"],
    }
    for name, value in expected.items():
        if getattr(feedback, name) != value:
            raise ListStateError(f"feedback: {name} {getattr(feedback, name)!r} is not this list's")
    unknown = sorted(set(feedback.failed_rules) - {r["name"] for r in listed["rules"]})
    if unknown:
        raise ListStateError(f"feedback: failed rule(s) {', '.join(unknown)} not in the list")
    if feedback.candidates != len(listed["candidates"]):
        raise ListStateError(
            f"feedback: {feedback.candidates} candidates, the list has {len(listed['candidates'])}"
        )
    stored = FeedbackRecord(
        list_pk=record.id,
        study_id=record.study_id,
        practice=record.practice,
        document=json.dumps(doc, ensure_ascii=False, sort_keys=True),
        created_by=physician.id,
    )
    session.add(stored)
    session.commit()
    session.refresh(stored)
    return stored


def study_funnel(session: Session, study: Study, *, role: str, policy: Any) -> dict[str, Any]:
    """The recruitment funnel of ``study`` from the latest feedback of each list, released
    for ``role`` under ``policy`` (sponsor: masked and rounded; steward: exact)."""
    from matcher.candidates.feedback import funnel, parse_feedback, release_funnel

    latest: dict[int, FeedbackRecord] = {}
    query = select(FeedbackRecord).where(FeedbackRecord.study_id == study.id)
    for row in session.exec(query.order_by(FeedbackRecord.id)):
        latest[row.list_pk] = row
    feedbacks = [parse_feedback(json.loads(r.document)) for r in latest.values()]
    if not feedbacks:
        return {"study_id": study.id, "role": role, "lists": 0, "practices": 0, "listed": None}
    return release_funnel(funnel(feedbacks), role, policy)
