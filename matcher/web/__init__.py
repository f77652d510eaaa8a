"""The web interface of ``p4dp serve``: static pages at ``/`` that call the HTTP API.

The pages are plain HTML, CSS and JavaScript (no build step, no third-party asset) in
``matcher/web/static``; they keep the caller's API token in the tab's ``sessionStorage`` and
send it as ``Authorization: Bearer`` on every call, so every action goes through the same
authentication, roles and audit as the API (see ``docs/web.md``). :func:`mount_web` adds the
pages and the few routes the pages need that the API lacked (:mod:`matcher.web.routes`).

    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> mount_web(app)
    >>> paths = [getattr(route, "path", "") for route in app.routes]
    >>> "/" in paths and "/web" in paths
    True
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request

STATIC = Path(__file__).parent / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
"""Headers of the pages: only our own scripts run (no inline script), never in a frame."""


class _StaticWithHeaders(StaticFiles):
    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        return response


async def index(request: Request) -> Response:
    """The single page (it routes on the URL fragment: ``/#/studies/1/editor``)."""
    return FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


def mount_web(app: FastAPI, responses: dict | None = None) -> None:
    """Add the pages (``/``, ``/web/...``) and the routes they need to ``app``."""
    from matcher.web.routes import router

    app.include_router(router, responses=responses)
    app.add_route("/", index, methods=["GET"], include_in_schema=False)
    app.mount("/web", _StaticWithHeaders(directory=STATIC), name="web")
