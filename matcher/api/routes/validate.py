"""``POST /validate``: check a criteria file without storing anything (for editors)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from matcher.api.criteria import validation_report
from matcher.api.deps import require_roles
from matcher.api.routes._body import CRITERIA_BODY, read_criteria

router = APIRouter(tags=["criteria"])


@router.post(
    "/validate",
    dependencies=[require_roles("sponsor", "physician", "steward")],
    openapi_extra=CRITERIA_BODY,
)
async def post_validate(request: Request) -> dict[str, Any]:
    """Every error and warning of the file (line, column, message, suggestion), as
    ``p4dp check --format json`` prints them, with ``ok`` and the criteria hash."""
    body = await read_criteria(request)
    return await run_in_threadpool(validation_report, body.text, body.filename, body.params)
