"""Approvals, candidate lists and feedback over HTTP.

* ``POST /studies/{id}/versions/{v}/approval`` (steward): approve a version (201; 409 twice).
* ``GET /approvals/queue`` (steward): versions waiting, with explanation and exact counts.
* ``POST /studies/{id}/versions/{v}/lists`` (steward): sign one list per practice (201); the
  version must be approved (409); the platform signing key is ``$P4DP_SIGNING_KEY`` (a file
  made by ``p4dp keys init``) unless the settings name one (503 without a key).
* ``GET /practices/{practice}/lists``, ``GET /lists/{id}``: the physicians of that practice
  (and stewards) only; ``/lists/{id}`` is the signed JSON document byte for byte.
* ``POST /lists/{id}/feedback`` (a physician of the list's practice): a ``p4dp-feedback``
  document (201).
* ``GET /studies/{id}/funnel`` (the study's sponsor, stewards): the recruitment funnel,
  masked and rounded for a sponsor under the ledger's policy, exact for a steward.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from matcher.api.deps import (
    CurrentAccount,
    ObjectId,
    SessionDep,
    get_data,
    not_found,
    require_roles,
)
from matcher.api.lists import (
    ListStateError,
    add_feedback,
    approval_queue,
    approval_view,
    approve,
    generate_lists,
    list_view,
    lists_of_practice,
    may_read_list,
    study_funnel,
)
from matcher.api.models import Account, Role
from matcher.api.models_lists import CandidateListRecord
from matcher.api.routes.runs import NO_LEDGER, ledger_of
from matcher.api.studies import version_of, visible_study
from matcher.disclosure.ledger import NotStewardError
from matcher.errors import MatcherError

SIGNING_KEY_ENV = "P4DP_SIGNING_KEY"
router = APIRouter(tags=["approvals and lists"])
steward_only = [require_roles("steward")]


class ApprovalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = Field(default="", max_length=2000)


class ListsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    practices: list[str] = Field(default_factory=list, max_length=1000)
    expires_days: int = Field(default=30, ge=1, le=365)


def _version(session, account: Account, study_id: int, number: int):  # type: ignore[no-untyped-def]
    study = visible_study(session, account, study_id)
    version = version_of(session, study, number) if study is not None else None
    if version is None:
        raise not_found("version")
    return version


def _signing_key(request: Request) -> Any:
    from matcher.candidates.signing import load_signing_key

    path = getattr(request.app.state.settings, "signing_key", None) or os.environ.get(
        SIGNING_KEY_ENV
    )
    if not path:
        raise HTTPException(503, detail=f"no platform signing key: set {SIGNING_KEY_ENV}")
    return load_signing_key(path)


@router.post(
    "/studies/{study_id}/versions/{number}/approval", status_code=201, dependencies=steward_only
)
def post_approval(
    study_id: ObjectId,
    number: ObjectId,
    account: CurrentAccount,
    session: SessionDep,
    body: ApprovalIn | None = None,
) -> dict[str, Any]:
    """Approve a criteria version (lists can then be generated)."""
    version = _version(session, account, study_id, number)
    try:
        return approval_view(approve(session, account, version, (body or ApprovalIn()).note))
    except ListStateError as exc:
        raise HTTPException(409, detail=str(exc)) from None


@router.get("/approvals/queue", dependencies=steward_only)
def get_approval_queue(session: SessionDep) -> list[dict[str, Any]]:
    """Versions waiting for approval, with their explanation and exact counts."""
    return approval_queue(session)


@router.post(
    "/studies/{study_id}/versions/{number}/lists",
    status_code=201,
    dependencies=steward_only,
    responses={503: NO_LEDGER},
)
def post_lists(
    study_id: ObjectId,
    number: ObjectId,
    request: Request,
    account: CurrentAccount,
    session: SessionDep,
    body: ListsIn | None = None,
) -> list[dict[str, Any]]:
    """Sign one candidate list per practice with candidates (exact counts: stewards)."""
    version = _version(session, account, study_id, number)
    body = body or ListsIn()
    data = get_data(request)
    key = _signing_key(request)
    ledger = ledger_of(request)
    try:
        records = generate_lists(
            session,
            steward=account,
            version=version,
            data=data,
            signing_key=key,
            ledger=ledger,
            practices=body.practices,
            validity=dt.timedelta(days=body.expires_days),
        )
    except (ListStateError, NotStewardError) as exc:
        raise HTTPException(409, detail=str(exc)) from None
    return [list_view(r, exact=True) for r in records]


@router.get("/practices/{practice}/lists", dependencies=[require_roles("physician", "steward")])
def get_practice_lists(
    practice: Annotated[str, Path(min_length=1, max_length=100)],
    account: CurrentAccount,
    session: SessionDep,
) -> list[dict[str, Any]]:
    """A practice's lists (its physicians; stewards)."""
    if account.role == Role.PHYSICIAN and account.practice != practice:
        raise not_found("practice")
    return [
        list_view(r, exact=account.role == Role.STEWARD)
        for r in lists_of_practice(session, practice)
    ]


def _list(session, account: Account, list_pk: int) -> CandidateListRecord:  # type: ignore[no-untyped-def]
    record = session.get(CandidateListRecord, list_pk)
    if record is None or not may_read_list(account, record):
        raise not_found("list")
    return record


@router.get(
    "/lists/{list_pk}",
    dependencies=[require_roles("physician", "steward")],
    responses={200: {"content": {"application/json": {}}, "description": "the signed list"}},
)
def get_list(list_pk: ObjectId, account: CurrentAccount, session: SessionDep) -> Response:
    """The signed list, byte for byte (verify it with the platform's public key)."""
    return Response(_list(session, account, list_pk).document, media_type="application/json")


@router.post(
    "/lists/{list_pk}/feedback", status_code=201, dependencies=[require_roles("physician")]
)
def post_feedback(
    list_pk: ObjectId,
    account: CurrentAccount,
    session: SessionDep,
    document: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    """A ``p4dp-feedback`` document for this list (counts only; no token, no name)."""
    record = _list(session, account, list_pk)
    try:
        stored = add_feedback(session, account, record, document)
    except MatcherError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return {"id": stored.id, "list_id": record.list_id, "created_at": stored.created_at.isoformat()}


@router.get(
    "/studies/{study_id}/funnel",
    dependencies=[require_roles("sponsor", "steward")],
    responses={503: NO_LEDGER},
)
def get_funnel(
    study_id: ObjectId, request: Request, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """The recruitment funnel (sponsor: under disclosure control; steward: exact)."""
    from matcher.services.funnel import authorise_funnel

    study = visible_study(session, account, study_id)
    if study is None:
        raise not_found("study")
    ledger = ledger_of(request)
    try:
        role = authorise_funnel(account.role, account.name, ledger=ledger)
    except NotStewardError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    return study_funnel(session, study, role=role, policy=ledger.policy)
