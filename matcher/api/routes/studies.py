"""``/studies``: a sponsor's studies, their criteria versions, submissions and diffs.

Sponsors see their own studies; stewards see all; a foreign or missing study is 404.
Only the owning sponsor submits criteria.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from matcher.api.deps import CurrentAccount, ObjectId, SessionDep, not_found, require_roles
from matcher.api.models import Account, Role, Study, Submission
from matcher.api.routes._body import CRITERIA_BODY, read_criteria
from matcher.api.studies import (
    create_study,
    diff_versions,
    study_view,
    submission_view,
    submissions_of,
    submit,
    version_of,
    version_view,
    versions_of,
    visible_studies,
    visible_study,
)

router = APIRouter(
    prefix="/studies", tags=["studies"], dependencies=[require_roles("sponsor", "steward")]
)


class StudyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


def _study(session: SessionDep, account: Account, study_id: int) -> Study:
    study = visible_study(session, account, study_id)
    if study is None:
        raise not_found("study")
    return study


@router.get("")
def list_studies(account: CurrentAccount, session: SessionDep) -> list[dict[str, Any]]:
    return [study_view(session, s) for s in visible_studies(session, account)]


@router.post("", status_code=201)
def post_study(body: StudyIn, account: CurrentAccount, session: SessionDep) -> dict[str, Any]:
    if account.role != Role.SPONSOR:
        raise HTTPException(403, detail="only sponsors create studies")
    return study_view(session, create_study(session, account, body.name))


@router.get("/{study_id}")
def get_study(study_id: ObjectId, account: CurrentAccount, session: SessionDep) -> dict[str, Any]:
    return study_view(session, _study(session, account, study_id))


@router.post(
    "/{study_id}/submissions",
    status_code=201,
    openapi_extra=CRITERIA_BODY,
    responses={
        200: {"description": "valid, same criteria as an existing version"},
        422: {"description": "rejected: the diagnostics say why"},
    },
)
async def post_submission(
    study_id: ObjectId, request: Request, account: CurrentAccount, session: SessionDep
) -> JSONResponse:
    """Check a criteria file and keep it: valid → a version (201, or 200 when its criteria
    hash is an existing version's); invalid → a rejected submission (422) with every error."""
    study = _study(session, account, study_id)
    if account.role != Role.SPONSOR:
        raise HTTPException(403, detail="only the study's sponsor submits criteria")
    body = await read_criteria(request)
    outcome = await run_in_threadpool(
        submit, session, study, account, body.text, body.filename, body.params
    )
    status = 422 if outcome.version is None else (201 if outcome.new_version else 200)
    return JSONResponse(outcome.view(), status_code=status)


@router.get("/{study_id}/submissions")
def list_submissions(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> list[dict[str, Any]]:
    study = _study(session, account, study_id)
    out = []
    for sub in submissions_of(session, study):
        view = submission_view(sub, None)
        view.pop("diagnostics")
        out.append(view)
    return out


@router.get("/{study_id}/submissions/{submission_id}")
def get_submission(
    study_id: ObjectId, submission_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    study = _study(session, account, study_id)
    sub = session.get(Submission, submission_id)
    if sub is None or sub.study_id != study.id:
        raise not_found("submission")
    from matcher.api.models import CriteriaVersion

    version = session.get(CriteriaVersion, sub.version_id) if sub.version_id else None
    return {**submission_view(sub, version), "source": sub.source}


@router.get("/{study_id}/versions")
def list_versions(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> list[dict[str, Any]]:
    return [version_view(v) for v in versions_of(session, _study(session, account, study_id))]


@router.get("/{study_id}/versions/{number}")
def get_version(
    study_id: ObjectId, number: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    version = version_of(session, _study(session, account, study_id), number)
    if version is None:
        raise not_found("version")
    return version_view(version, source=True)


@router.get("/{study_id}/versions/{a}/diff/{b}")
def get_diff(
    study_id: ObjectId, a: ObjectId, b: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """Rules added, removed or changed between versions ``a`` and ``b``, and for each code set
    that changed, the codes added and removed (expanded)."""
    study = _study(session, account, study_id)
    va, vb = version_of(session, study, a), version_of(session, study, b)
    if va is None or vb is None:
        raise not_found("version")
    return diff_versions(va, vb)
