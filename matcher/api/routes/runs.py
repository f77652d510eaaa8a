"""Feasibility runs over HTTP: queue one for a criteria version, follow it, read its result.

* ``POST /studies/{id}/versions/{v}/runs`` (the study's sponsor; a steward) queues a run of
  that version (202). A sponsor beyond the ledger's budget, counting their queued runs, gets
  429 with ``Retry-After`` (seconds) and nothing is queued.
* ``GET /runs/{id}``: status, phase, progress, and once done the result in the JSON shape of
  ``p4dp count --format json`` (released numbers only for a sponsor); failed: the reason.
* ``GET /studies/{id}/runs``: the study's runs, newest first (a sponsor sees only their own).

A worker (:class:`matcher.services.run_worker.RunWorker`) executes the runs: ``p4dp serve``
starts one in a thread when it has data, ``p4dp worker`` starts more. The ledger is the one
``p4dp count`` uses (``$P4DP_LEDGER`` unless the settings name one); a steward's account
name must be a steward of that ledger for exact counts.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from matcher.api.deps import CurrentAccount, ObjectId, SessionDep, not_found, require_roles
from matcher.api.models import Account, Role, Study
from matcher.api.studies import version_of, visible_study
from matcher.disclosure.ledger import Ledger, LedgerError, QueryFrozenError
from matcher.errors import MatcherError
from matcher.services.run_store import FeasibilityRun
from matcher.services.runs import RunBudgetError, check_run_budget, submit_run

NO_LEDGER: dict[str, Any] = {
    "description": "the service has no query ledger (or no data, or no signing key)",
    "content": {"application/json": {"schema": {"type": "object"}}},
}
router = APIRouter(tags=["runs"], dependencies=[require_roles("sponsor", "steward")])


class RunOptions(BaseModel):
    """The options of ``p4dp count`` (criteria parameters are fixed by the version)."""

    model_config = ConfigDict(extra="forbid")

    by: list[str] = Field(default_factory=list, max_length=2, examples=[["sex"]])
    order: list[str] | None = Field(default=None, max_length=200)
    without: list[str] = Field(default_factory=list, max_length=200)
    index_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    threshold: int | None = Field(default=None, ge=1)
    rounding: int | None = Field(default=None, ge=1)


def ledger_of(request: Request) -> Ledger:
    """The service's ledger (``settings.ledger`` when set, else ``$P4DP_LEDGER``/default);
    503 when there is none (or it cannot be read)."""
    try:
        return Ledger.open(getattr(request.app.state.settings, "ledger", None))
    except LedgerError as exc:
        raise HTTPException(503, detail=f"the service's query ledger: {exc}") from None


def run_view(run: FeasibilityRun) -> dict[str, Any]:
    def iso(moment):  # type: ignore[no-untyped-def]
        return moment.isoformat() if moment is not None else None

    return {
        "id": run.id,
        "study_id": run.study_id,
        "version_id": run.version_id,
        "requester": run.requester,
        "role": run.role,
        "options": json.loads(run.options_json),
        "status": run.status,
        "phase": run.phase,
        "progress": run.progress,
        "attempts": run.attempts,
        "data_snapshot": run.data_snapshot,
        "notes": json.loads(run.notes_json),
        "result": json.loads(run.result_json) if run.result_json else None,
        "error": run.error,
        "error_kind": run.error_kind,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
    }


def _study(session, account: Account, study_id: int) -> Study:  # type: ignore[no-untyped-def]
    study = visible_study(session, account, study_id)
    if study is None:
        raise not_found("study")
    return study


def _may_see(account: Account, run: FeasibilityRun) -> bool:
    return account.role == Role.STEWARD or (
        account.role == Role.SPONSOR and run.requester == account.name and run.role == "sponsor"
    )


@router.post(
    "/studies/{study_id}/versions/{number}/runs",
    status_code=202,
    responses={
        429: {"description": "over the feasibility budget: see Retry-After"},
        503: NO_LEDGER,
    },
)
def post_run(
    study_id: ObjectId,
    number: ObjectId,
    request: Request,
    account: CurrentAccount,
    session: SessionDep,
    options: RunOptions | None = None,
) -> JSONResponse:
    """Queue a feasibility run of version ``number`` (202 with the run; poll ``/runs/{id}``)."""
    study = _study(session, account, study_id)
    version = version_of(session, study, number)
    if version is None:
        raise not_found("version")
    opts = (options or RunOptions()).model_dump(exclude_none=True, exclude_defaults=True)
    try:
        ledger = ledger_of(request)
        check_run_budget(
            request.app.state.engine, ledger, requester=account.name, role=account.role
        )
        if account.role == Role.STEWARD:
            ledger.require_steward(account.name, "exact counts")
    except RunBudgetError as exc:
        raise HTTPException(
            429, detail=str(exc), headers={"Retry-After": str(exc.retry_after)}
        ) from None
    except QueryFrozenError as exc:
        raise HTTPException(403, detail=str(exc)) from None
    except MatcherError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    run = submit_run(
        request.app.state.engine,
        criteria=version.ir_json,
        criteria_format="ir",
        requester=account.name,
        role=account.role,
        options=opts,
        study_id=study.id,
        version_id=version.id,
    )
    return JSONResponse(run_view(run), status_code=202, headers={"Location": f"/runs/{run.id}"})


@router.get("/runs/{run_id}")
def get_run_route(run_id: ObjectId, account: CurrentAccount, session: SessionDep) -> dict[str, Any]:
    """A run: status, phase, progress; its result once done, its reason once failed."""
    return run_view(visible_run(session, account, run_id))


def visible_run(session, account: Account, run_id: int) -> FeasibilityRun:  # type: ignore[no-untyped-def]
    """The run ``run_id`` if ``account`` may see it (404 otherwise, whoever owns it)."""
    run = session.get(FeasibilityRun, run_id)
    if run is None or not _may_see(account, run):
        raise not_found("run")
    if run.study_id is not None and visible_study(session, account, run.study_id) is None:
        raise not_found("run")
    return run


@router.get("/studies/{study_id}/runs")
def list_runs(
    study_id: ObjectId, account: CurrentAccount, session: SessionDep
) -> list[dict[str, Any]]:
    """The study's runs, newest first (a sponsor: their own)."""
    study = _study(session, account, study_id)
    query = select(FeasibilityRun).where(FeasibilityRun.study_id == study.id)
    runs = session.exec(query.order_by(FeasibilityRun.id.desc())).all()  # type: ignore[union-attr]
    return [run_view(r) for r in runs if _may_see(account, r)]


def start_worker(app) -> None:  # type: ignore[no-untyped-def]
    """Start a worker thread for ``app`` (``p4dp serve``); it counts on the app's data (the
    snapshot chosen in the database, else ``--data``) and waits while there is none."""
    from matcher.services.run_worker import RunWorker

    settings = app.state.settings
    if getattr(app.state, "run_worker", None) is not None:
        return
    worker = RunWorker(
        app.state.engine,
        ledger=getattr(settings, "ledger", None),
        data=settings.data,
        source=app.state.data_source,
    )
    app.state.run_worker = worker
    worker.start_thread()


def stop_worker(app) -> None:  # type: ignore[no-untyped-def]
    worker = getattr(app.state, "run_worker", None)
    if worker is not None:
        worker.stop()
