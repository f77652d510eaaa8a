"""``Idempotency-Key`` on every POST: a retried request is answered once, not done twice.

The first POST with a key claims it (a ``pending`` row, committed before the request runs);
its response is stored with it. Then, for the same account and key:

* the same request again → the stored response, with ``Idempotent-Replayed: true``;
* another body or route → 422;
* while the first is still running → 409.

Responses that say "try again" (401, 409, 429, 5xx) are not stored: the key is freed. A claim
left ``pending`` by a crashed process is freed when the server starts again
(:func:`release_abandoned`), or taken over after :data:`ABANDONED_AFTER`.

    >>> a = request_fingerprint("POST", "/validate", b"x")
    >>> a == request_fingerprint("POST", "/validate", b"x")
    True
    >>> a == request_fingerprint("POST", "/validate", b"y")
    False
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from matcher.api.accounts import account_for_token
from matcher.api.audit import Caller
from matcher.api.middleware import send_json
from matcher.api.models import Account, IdempotencyRecord, utcnow
from matcher.disclosure.chain import sha256

HEADER = b"idempotency-key"
MAX_KEY = 200
ABANDONED_AFTER = timedelta(minutes=10)
NOT_STORED = {401, 409, 429}


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return sha256(method.encode() + b" " + path.encode() + b"\n" + body)


@dataclass
class Claim:
    outcome: str  # claimed | replay | mismatch | busy | unknown
    record: IdempotencyRecord | None = None
    owner: str = ""
    account: Account | None = None


def claim(engine: Engine, token: str, key: str, fingerprint: str) -> Claim:
    """Claim ``key`` for the account holding ``token`` or say why not (see the module
    docstring); ``unknown`` when the token is not a live account's (the route answers 401)."""
    with Session(engine) as session:
        account = account_for_token(session, token)
    if account is None:
        return Claim("unknown")
    owner = f"account:{account.id}"
    for _ in range(2):
        with Session(engine) as session:
            session.add(
                IdempotencyRecord(owner=owner, key=key, request_hash=fingerprint, state="pending")
            )
            try:
                session.commit()
                return Claim("claimed", owner=owner, account=account)
            except IntegrityError:
                session.rollback()
            found = session.exec(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.owner == owner, IdempotencyRecord.key == key
                )
            ).first()
            if found is None:
                continue  # freed meanwhile: try again
            if found.request_hash != fingerprint:
                return Claim("mismatch", found, owner, account)
            if found.state == "done":
                return Claim("replay", found, owner, account)
            if utcnow() - found.created_at > ABANDONED_AFTER:
                session.delete(found)
                session.commit()
                continue
            return Claim("busy", found, owner, account)
    return Claim("busy", None, owner, account)


def finish(engine: Engine, owner: str, key: str, status: int, headers: list, body: bytes) -> None:
    """Store the response of a claimed key, or free the key when it must not be stored."""
    with Session(engine) as session:
        where = (IdempotencyRecord.owner == owner, IdempotencyRecord.key == key)
        if status >= 500 or status in NOT_STORED:
            session.exec(delete(IdempotencyRecord).where(*where))
        else:
            record = session.exec(select(IdempotencyRecord).where(*where)).one()
            record.state, record.status, record.body = "done", status, body
            record.headers_json = json.dumps(headers)
            session.add(record)
        session.commit()


def release_abandoned(engine: Engine) -> int:
    """Free the keys still ``pending`` (their server process died); run at start, as one
    server process serves a database. Returns how many were freed."""
    with Session(engine) as session:
        result = session.exec(delete(IdempotencyRecord).where(IdempotencyRecord.state == "pending"))
        session.commit()
        return result.rowcount or 0


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _replaying(body: bytes, receive: Any) -> Any:
    """A ``receive`` that gives the body already read, then waits on the real one."""
    sent = False

    async def replay_receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay_receive


class IdempotencyMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        key_raw = _header(scope, HEADER) if scope["type"] == "http" else None
        auth = _header(scope, b"authorization")
        if key_raw is None or scope.get("method") != "POST" or not auth:
            await self.app(scope, receive, send)
            return
        key = key_raw.decode("latin-1").strip()
        if not key or len(key) > MAX_KEY:
            await send_json(send, 400, {"detail": f"Idempotency-Key: 1 to {MAX_KEY} characters"})
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        engine = scope["app"].state.engine
        scheme, _, token = auth.decode("latin-1").partition(" ")
        fingerprint = request_fingerprint("POST", scope.get("path", ""), body)
        got = await anyio.to_thread.run_sync(claim, engine, token.strip(), key, fingerprint)
        if got.outcome == "unknown" or scheme.lower() != "bearer":
            await self.app(scope, _replaying(body, receive), send)
            return
        owner = got.owner
        scope.setdefault("state", {})["caller"] = Caller.of(got.account)
        if got.outcome == "mismatch":
            await send_json(
                send, 422, {"detail": "this Idempotency-Key was used with another request"}
            )
            return
        if got.outcome == "busy":
            await send_json(
                send, 409, {"detail": "a request with this Idempotency-Key is still running"}
            )
            return
        if got.outcome == "replay":
            record = got.record
            assert record is not None and record.status is not None
            headers = [
                (k.encode("latin-1"), v.encode("latin-1"))
                for k, v in json.loads(record.headers_json or "[]")
            ]
            headers.append((b"idempotent-replayed", b"true"))
            await send({"type": "http.response.start", "status": record.status, "headers": headers})
            await send({"type": "http.response.body", "body": record.body or b""})
            return
        status, headers, out = 500, [], []

        async def capture(message: dict[str, Any]) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1"))
                    for k, v in message.get("headers", ())
                ]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, _replaying(body, receive), capture)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(
                    finish, engine, owner, key, status, headers, b"".join(out)
                )
