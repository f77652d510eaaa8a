"""The app factory: :func:`create_app` builds the FastAPI application from :class:`ApiSettings`.

Routers are listed in :data:`matcher.api.routes.ROUTERS` and included in that order; the
middleware (audit, body limit, idempotency) wraps all of them.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from matcher import __version__
from matcher.api.db import make_engine, migrate
from matcher.api.idempotency import IdempotencyMiddleware, release_abandoned
from matcher.api.middleware import AuditMiddleware, BodyLimitMiddleware
from matcher.api.ratelimit import DatabaseRateLimiter
from matcher.api.settings import ApiSettings
from matcher.services.data_choice import DataSource

DESCRIPTION = """Criteria submissions, versions, terminology and audit of the p4dp platform.

Every route but `/health` needs `Authorization: Bearer TOKEN` (a token from `p4dp users add`).
POST routes accept an `Idempotency-Key` header."""


def _error(text: str) -> dict[str, Any]:
    return {"description": text, "content": {"application/json": {"schema": {"type": "object"}}}}


COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: _error("missing, garbled, unknown or revoked token"),
    403: _error("the caller's role may not use this route"),
    404: _error("no such object, or one the caller may not see"),
    409: _error("a request with this Idempotency-Key is still running"),
    413: _error("request body too large"),
    415: _error("unsupported content type"),
    422: _error("invalid request (or Idempotency-Key reused with another request)"),
    429: _error("rate limit: retry after the Retry-After header's seconds"),
}
"""Answers any route may give, documented on every route of the OpenAPI schema."""


SETTINGS_ENV = "P4DP_API_SETTINGS"
"""Where ``p4dp serve --workers N`` hands its settings to each worker process (JSON)."""


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``p4dp serve --workers N`` (uvicorn factory): the
    settings come from :data:`SETTINGS_ENV`; each worker opens the data itself."""
    import json
    import os

    from matcher.data.open import open_data

    raw = json.loads(os.environ[SETTINGS_ENV])
    data = raw.pop("data_path", None)
    settings = ApiSettings(**raw, data=open_data(data) if data else None, migrate_on_start=False)
    app = create_app(settings)
    from matcher.api.warmup import prepare_process

    prepare_process()
    return app


def create_app(settings: ApiSettings) -> FastAPI:
    """The application (migrates the database first when ``settings.migrate_on_start``)."""
    from matcher.api.routes import ROUTERS
    from matcher.web import mount_web

    if settings.migrate_on_start:
        migrate(settings.database_url)
    app = FastAPI(
        title="p4dp-matcher API",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.rate_limiter = DatabaseRateLimiter(app.state.engine, settings.rate_limit_per_minute)
    app.state.data_source = DataSource(app.state.engine)  # the snapshot chosen in the database
    if settings.migrate_on_start:  # the process that starts the service, not each worker
        release_abandoned(app.state.engine)
    for router in ROUTERS:
        app.include_router(router, responses=COMMON_RESPONSES)
    mount_web(app, COMMON_RESPONSES)  # the web pages at / and the routes they need
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware)
    return app
