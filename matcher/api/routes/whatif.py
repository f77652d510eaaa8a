"""What-if on a finished run, without a new scan: ``POST /runs/{id}/what-if``.

The body gives the funnel ``order`` and the rules switched off (``without``); the answer is
the JSON of ``p4dp count --format json`` for those options, recomputed from the run's stored
outcome histogram (:mod:`matcher.services.whatif`), plus ``run_id`` and ``notes``. It is a
release like any other: disclosure control, ledger record, budget (over it: 429 with
``Retry-After``). Who may ask: whoever may read the run (``GET /runs/{id}``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from matcher.api.deps import CurrentAccount, ObjectId, SessionDep, require_roles
from matcher.api.models import Role
from matcher.api.routes.runs import NO_LEDGER, ledger_of, visible_run
from matcher.disclosure.ledger import BudgetExceededError, QueryFrozenError
from matcher.errors import MatcherError
from matcher.services.runs import RunBudgetError, _retry_after, check_run_budget
from matcher.services.whatif import WhatIfInvalid, WhatIfUnavailable, what_if

router = APIRouter(tags=["runs"], dependencies=[require_roles("sponsor", "steward")])

RuleName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WhatIfBody(BaseModel):
    """The what-if: the funnel's order (rules not named follow in file order) and the rules
    switched off. The run's breakdown dimensions and view options are kept."""

    model_config = ConfigDict(extra="forbid")

    order: list[RuleName] | None = Field(default=None, max_length=200, examples=[["diabetes"]])
    without: list[RuleName] = Field(default_factory=list, max_length=200, examples=[["insulin"]])


@router.post(
    "/runs/{run_id}/what-if",
    responses={
        409: {"description": "the run cannot answer a what-if (not done, nothing kept)"},
        429: {"description": "over the feasibility budget: see Retry-After"},
        503: NO_LEDGER,
    },
)
def post_what_if(
    run_id: ObjectId,
    body: WhatIfBody,
    request: Request,
    account: CurrentAccount,
    session: SessionDep,
) -> JSONResponse:
    """Recompute run ``run_id`` with another order and rules switched off, from its stored
    outcome histogram (no new scan); a new release, recorded and budgeted."""
    run = visible_run(session, account, run_id)
    engine = request.app.state.engine
    ledger = ledger_of(request)
    try:
        check_run_budget(engine, ledger, requester=account.name, role=account.role)
        if account.role == Role.STEWARD:
            ledger.require_steward(account.name, "exact counts")
        outcome = what_if(
            engine,
            ledger,
            run=run,
            requester=account.name,
            role=account.role,
            order=body.order,
            without=body.without,
        )
    except RunBudgetError as exc:
        raise _too_many(str(exc), exc.retry_after) from None
    except BudgetExceededError as exc:  # spent meanwhile, by a concurrent request
        raise _too_many(str(exc), _retry_after(ledger, account.name, 0)) from None
    except QueryFrozenError as exc:
        raise HTTPException(403, detail=str(exc)) from None
    except WhatIfInvalid as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except (WhatIfUnavailable, MatcherError) as exc:
        raise HTTPException(409, detail=str(exc)) from None
    content: dict[str, Any] = json.loads(outcome.result_json)
    content["run_id"] = run.id
    content["notes"] = outcome.notes
    return JSONResponse(content)


def _too_many(message: str, retry_after: int) -> HTTPException:
    return HTTPException(429, detail=message, headers={"Retry-After": str(retry_after)})
