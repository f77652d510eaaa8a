"""The service's data: which snapshot it counts on, and switching to another while it runs.

* ``GET /admin/data`` (steward): the current choice and the history of choices, newest first.
* ``POST /admin/data`` (steward): ``{"path": "/srv/p4dp/snapshots/2026-12", "note": "..."}``
  checks that the path opens as data and records it (201); every server process and worker
  counts on it for the runs it starts from then on, while runs in progress finish on the
  data they started with (see :mod:`matcher.services.data_choice`). A path that does not open
  is a 422 and changes nothing.

Choosing data is a steward's decision (data governance); an admin manages accounts only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from matcher.api.deps import CurrentAccount, require_roles
from matcher.errors import MatcherError
from matcher.services.data_choice import choice_history, choice_view, choose_data

router = APIRouter(tags=["data"], dependencies=[require_roles("steward")])


class DataChoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(min_length=1, max_length=1000, examples=["/srv/p4dp/snapshots/2026-12"])
    note: str = Field(default="", max_length=2000)


@router.get("/admin/data")
def get_data_choice(request: Request) -> dict[str, Any]:
    """The data the service counts on now (``null``: the ``--data`` it was started with, no
    choice recorded yet) and every choice, newest first."""
    history = [choice_view(c) for c in choice_history(request.app.state.engine)]
    return {"current": history[0] if history else None, "history": history}


@router.post("/admin/data", status_code=201)
async def post_data_choice(
    body: DataChoiceIn, request: Request, account: CurrentAccount
) -> dict[str, Any]:
    """Switch the service to another snapshot (runs in progress keep theirs)."""
    try:
        choice = await run_in_threadpool(
            choose_data,
            request.app.state.engine,
            body.path,
            chosen_by=account.name,
            via="http",
            note=body.note,
        )
    except MatcherError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    return choice_view(choice)
