"""ASGI middleware of the service, outermost first: audit, body size limit, idempotency.

* :class:`AuditMiddleware` writes one audit row per HTTP request as it is answered (before
  the response, refusals included; see :mod:`matcher.api.audit`).
* :class:`BodyLimitMiddleware` answers 413 to a body larger than the limit: at once when
  ``Content-Length`` says so (nothing is read), else as soon as the bytes received pass it.
* :class:`IdempotencyMiddleware` gives every POST an ``Idempotency-Key`` (see
  :mod:`matcher.api.idempotency`).
"""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
from fastapi import HTTPException

from matcher.api.audit import ANONYMOUS, AuditEntry, append_audit, caller_for_token

Scope = dict[str, Any]


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, detail=f"request body larger than {limit} bytes")


async def send_json(send: Any, status: int, body: dict[str, Any], headers=()) -> None:
    data = json.dumps(body).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
        *[(k.encode(), v.encode()) for k, v in headers],
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": data})


class RouteTable:
    """The app's route templates, to name the route and object of a request in the audit
    (``/studies/{study_id}``, ``study_id=3``); built at the first request, so every router
    included before it is known."""

    def __init__(self) -> None:
        self._routes: list[tuple[frozenset[str], re.Pattern[str], str]] | None = None

    def _build(self, app: Any) -> list[tuple[frozenset[str], re.Pattern[str], str]]:
        from fastapi.routing import iter_route_contexts
        from starlette.routing import compile_path

        out = []
        for context in iter_route_contexts(app.routes):
            path = context.path
            if not path:
                continue
            methods = getattr(context.original_route, "methods", None) or {"GET"}
            out.append((frozenset(methods), compile_path(path)[0], path))
        return out

    def describe(self, app: Any, method: str, path: str) -> tuple[str, str]:
        """The route template and its parameters; an unknown path is named ``(unmatched)``."""
        if self._routes is None:
            self._routes = self._build(app)
        for methods, regex, template in self._routes:
            match = regex.match(path)
            if match and method in methods:
                params = match.groupdict()
                return template, " ".join(f"{k}={v}" for k, v in sorted(params.items()))
        for _methods, regex, template in self._routes:
            if regex.match(path):
                return template, ""
        return "(unmatched)", ""


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


class AuditMiddleware:
    """Writes the audit row of a request before its answer leaves (so no answered request
    lacks its row, even if the process dies right after), or, when the app fails without
    answering, as a 500."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes = RouteTable()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        written = False

        async def record(status: int) -> None:
            nonlocal written
            written = True
            caller = state.get("caller")
            method = scope.get("method", "")
            route, obj = self.routes.describe(scope["app"], method, scope.get("path", ""))
            engine = scope["app"].state.engine
            token = _bearer_token(scope) if caller is None else None

            def write() -> None:
                who = caller or (caller_for_token(engine, token) if token else None) or ANONYMOUS
                entry = AuditEntry(
                    who=who.name,
                    role=who.role,
                    scope=who.scope,
                    method=method,
                    route=route,
                    object=obj,
                    status=status,
                )
                append_audit(engine, entry)

            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(write)

        async def send_after_audit(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and not written:
                await record(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        finally:
            if not written:
                await record(500)


class BodyLimitMiddleware:
    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await send_json(send, 400, {"detail": "invalid Content-Length"})
                    return
                if declared > self.limit:
                    await send_json(send, 413, {"detail": BodyTooLarge(self.limit).detail})
                    return
        received = 0
        started = False

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await send_json(send, 413, {"detail": exc.detail})
