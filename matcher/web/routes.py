"""The API routes the web pages need that the service lacked (all behind the usual token).

* ``GET /me`` (every role): who the token is (name, role, practice) and, for a sponsor, the
  feasibility runs left in the budget window (``null`` when the service has no ledger).
* ``POST /explain`` (sponsor, steward): the plain-language rendering of a criteria file
  (``p4dp explain``), or its diagnostics (422) when it does not compile.
* ``GET /audit/verify`` (steward): the hash-chain check of the audit log (``p4dp audit
  verify``).
* ``GET /ledger`` (steward): the query ledger's requests (who asked what, when), newest
  first, with the ledger's own chain check.
* ``GET /studies/{id}/overview`` (the study's sponsor, stewards): its versions with their
  status (``submitted`` or ``approved``), the caller's latest run, whether a draft waits.
* ``GET|PUT|DELETE /studies/{id}/draft`` (the study's sponsor): the editor's draft, kept when
  a save fails (:mod:`matcher.web.drafts`).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from matcher.api.audit import verify_audit
from matcher.api.deps import CurrentAccount, ObjectId, SessionDep, not_found, require_roles
from matcher.api.models import Account, Role, Study, iso
from matcher.api.routes._body import CRITERIA_BODY, read_criteria
from matcher.api.studies import versions_of, visible_study
from matcher.web.drafts import MAX_DRAFT, delete_draft, get_draft, put_draft

router = APIRouter(tags=["web"])


def _budget_left(request: Request, account: Any) -> int | None:
    from matcher.api.routes.runs import ledger_of
    from matcher.errors import MatcherError
    from matcher.services.runs import check_run_budget

    try:
        ledger = ledger_of(request)
    except HTTPException:
        return None
    try:
        return check_run_budget(
            request.app.state.engine, ledger, requester=account.name, role=account.role
        )
    except MatcherError:
        return 0


@router.get("/me")
def get_me(request: Request, account: CurrentAccount) -> dict[str, Any]:
    """The caller's account (no token), and a sponsor's remaining feasibility budget."""
    out: dict[str, Any] = {
        "name": account.name,
        "role": account.role,
        "practice": account.practice,
        "budget_left": None,
    }
    if account.role == Role.SPONSOR:
        out["budget_left"] = _budget_left(request, account)
    return out


def _explain(text: str, filename: str, params: dict[str, str]) -> dict[str, Any]:
    from criteria_dsl.explain import explain
    from matcher.api.criteria import check_criteria, report_of

    result = check_criteria(text, filename, params)
    if not result.ok or result.study is None:
        raise HTTPException(422, detail=report_of(result)["diagnostics"])
    return {"text": explain(result.study)}


@router.post(
    "/explain",
    dependencies=[require_roles("sponsor", "steward")],
    openapi_extra=CRITERIA_BODY,
)
async def post_explain(request: Request) -> dict[str, Any]:
    """The criteria file in plain language, every code set expanded (as ``p4dp explain``)."""
    body = await read_criteria(request)
    return await run_in_threadpool(_explain, body.text, body.filename, body.params)


@router.get("/audit/verify", dependencies=[require_roles("steward")])
def get_audit_verify(request: Request) -> dict[str, Any]:
    """Recompute the audit log's hash chain: ``ok``, rows checked, every problem found."""
    report = verify_audit(request.app.state.engine)
    return {"ok": report.ok, "rows": report.rows, "problems": report.problems}


@router.get("/ledger", dependencies=[require_roles("steward")])
def get_ledger(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> dict[str, Any]:
    """The ledger's requests, newest first, and its chain check (503 without a ledger)."""
    from matcher.api.routes.runs import ledger_of

    ledger = ledger_of(request)
    queries = ledger.queries()[::-1][:limit]
    report = ledger.verify()
    return {
        "ok": report.ok,
        "problems": report.problems,
        "queries": [
            {
                "id": q.id,
                "kind": q.kind,
                "requester": q.requester,
                "role": q.role,
                "study_id": q.study_id,
                "criteria_hash": q.criteria_hash,
                "data_snapshot": q.data_snapshot,
                "created_at": q.created_at.isoformat(),
            }
            for q in queries
        ],
    }


def _study(session: Any, account: Account, study_id: int) -> Study:
    study = visible_study(session, account, study_id)
    if study is None:
        raise not_found("study")
    return study


def _last_run(session: Any, account: Account, study: Study) -> dict[str, Any] | None:
    from matcher.services.run_store import FeasibilityRun

    query = select(FeasibilityRun).where(FeasibilityRun.study_id == study.id)
    if account.role != Role.STEWARD:
        query = query.where(
            FeasibilityRun.requester == account.name, FeasibilityRun.role == "sponsor"
        )
    run = session.exec(query.order_by(FeasibilityRun.id.desc())).first()  # type: ignore[union-attr]
    if run is None:
        return None
    counts = json.loads(run.result_json)["counts"] if run.result_json else {}
    return {
        "id": run.id,
        "version_id": run.version_id,
        "status": run.status,
        "eligible": counts.get("eligible"),
        "finished_at": iso(run.finished_at) if run.finished_at else None,
    }


@router.get("/studies/{study_id}/overview", dependencies=[require_roles("sponsor", "steward")])
def get_overview(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """The study's versions with their status, the caller's latest run, a waiting draft."""
    from matcher.api.lists import approval_of

    study = _study(session, account, study_id)
    versions = [
        {
            "id": v.id,
            "number": v.number,
            "criteria_hash": v.criteria_hash,
            "created_at": iso(v.created_at),
            "status": "approved" if approval_of(session, v) is not None else "submitted",
        }
        for v in versions_of(session, study)
    ]
    draft = account.role == Role.SPONSOR and get_draft(session, study.id, account.id) is not None
    return {
        "study_id": study.id,
        "versions": versions,
        "last_run": _last_run(session, account, study),
        "draft": draft,
    }


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criteria: str = Field(max_length=MAX_DRAFT)


sponsor_only = [require_roles("sponsor")]


@router.get("/studies/{study_id}/draft", dependencies=sponsor_only)
def get_study_draft(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """The caller's draft of this study's criteria (``criteria`` null when there is none)."""
    draft = get_draft(session, _study(session, account, study_id).id, account.id)
    if draft is None:
        return {"criteria": None, "updated_at": None}
    return {"criteria": draft.criteria, "updated_at": iso(draft.updated_at)}


@router.put("/studies/{study_id}/draft", dependencies=sponsor_only)
def put_study_draft(
    study_id: ObjectId, body: DraftIn, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """Keep the editor's text as the caller's draft of this study (replaces the last one)."""
    draft = put_draft(session, _study(session, account, study_id).id, account.id, body.criteria)
    return {"updated_at": iso(draft.updated_at)}


@router.delete("/studies/{study_id}/draft", dependencies=sponsor_only)
def delete_study_draft(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> dict[str, Any]:
    """Forget the caller's draft of this study (after a successful save)."""
    return {"deleted": delete_draft(session, _study(session, account, study_id).id, account.id)}
