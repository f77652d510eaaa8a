"""ASGI middleware of the service, outermost first: audit, body size limit, idempotency.

* :class:`AuditMiddleware` writes one audit row per HTTP request once it is answered (after
  the response, refusals included; see :mod:`matcher.api.audit`).
* :class:`BodyLimitMiddleware` answers 413 to a body larger than the limit: at once when
  ``Content-Length`` says so (nothing is read), else as soon as the bytes received pass it.
* :class:`IdempotencyMiddleware` gives every POST an ``Idempotency-Key`` (see
  :mod:`matcher.api.idempotency`).
"""

from __future__ import annotations

import json
from typing import Any

import anyio
from fastapi import HTTPException

from matcher.api.audit import ANONYMOUS, AuditEntry, append_audit

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


def _describe_object(scope: Scope) -> str:
    params = scope.get("path_params") or {}
    return " ".join(f"{k}={v}" for k, v in sorted(params.items()))


class AuditMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        status = {"code": 500}

        async def send_status(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            caller = state.get("caller") or ANONYMOUS
            route = scope.get("route")
            entry = AuditEntry(
                who=caller.name,
                role=caller.role,
                scope=caller.scope,
                method=scope.get("method", ""),
                route=getattr(route, "path", None) or scope.get("path", ""),
                object=_describe_object(scope),
                status=status["code"],
            )
            engine = scope["app"].state.engine
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(append_audit, engine, entry)


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
