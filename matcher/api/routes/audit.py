"""``GET /audit``: stewards read the audit log (newest first, paged by ``before``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import select

from matcher.api.deps import MAX_ID, SessionDep, require_roles
from matcher.api.models import AuditRow, iso

router = APIRouter(tags=["audit"], dependencies=[require_roles("steward")])


@router.get("/audit")
def get_audit(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[dict[str, Any]]:
    query = select(AuditRow).order_by(AuditRow.seq.desc()).limit(limit)
    if before is not None:
        query = query.where(AuditRow.seq < before)
    return [
        {
            "seq": r.seq,
            "at": iso(r.at),
            "who": r.who,
            "role": r.role,
            "scope": r.scope,
            "method": r.method,
            "route": r.route,
            "object": r.object,
            "status": r.status,
            "decision": r.decision,
            "hash": r.hash,
        }
        for r in session.exec(query)
    ]
