"""One router per resource; add a new one to :data:`ROUTERS` (see matcher/api/README-dev.md)."""

from __future__ import annotations

from fastapi import APIRouter

from matcher.api.routes import (
    accounts,
    audit,
    data,
    health,
    lists,
    runs,
    studies,
    terms,
    validate,
    whatif,
)

ROUTERS: list[APIRouter] = [
    health.router,
    accounts.router,
    studies.router,
    validate.router,
    terms.router,
    audit.router,
    runs.router,
    whatif.router,
    lists.router,
    data.router,
]
