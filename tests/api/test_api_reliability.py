"""Issue 14, reliability: Idempotency-Key, rate limits (429 + Retry-After), body limits (413)."""

from __future__ import annotations

import anyio
import pytest
from api_access import EXAMPLE
from api_harness import make_harness
from fastapi.testclient import TestClient
from sqlmodel import select

from matcher.api.idempotency import claim, request_fingerprint
from matcher.api.models import Account, Submission

TEXT = {"Content-Type": "text/plain"}


def _study(api) -> int:
    return api.client("sponsor").post("/studies", json={"name": "T2D"}).json()["id"]


def test_issue14_idempotency_key_replays_the_stored_response(api):
    sid = _study(api)
    c = api.client("sponsor")
    headers = {**TEXT, "Idempotency-Key": "sub-1"}
    first = c.post(f"/studies/{sid}/submissions", content=EXAMPLE, headers=headers)
    again = c.post(f"/studies/{sid}/submissions", content=EXAMPLE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    assert "idempotent-replayed" not in first.headers
    with api.session() as session:
        assert len(session.exec(select(Submission)).all()) == 1  # done once
    # same key, another body → 422; the key belongs to its account only
    other = c.post(f"/studies/{sid}/submissions", content=EXAMPLE + "\n# v2\n", headers=headers)
    assert other.status_code == 422
    mine = api.client("other_sponsor").post(
        "/studies", json={"name": "x"}, headers={"Idempotency-Key": "sub-1"}
    )
    assert mine.status_code == 201


def test_issue14_idempotency_concurrent_duplicate_is_409(api):
    sid = _study(api)
    path = f"/studies/{sid}/submissions"
    # a first request holds the key and is still running
    got = claim(
        api.app.state.engine,
        api.tokens["sponsor"],
        "k",
        request_fingerprint("POST", path, EXAMPLE.encode()),
    )
    assert got.outcome == "claimed"
    r = api.client("sponsor").post(path, content=EXAMPLE, headers={**TEXT, "Idempotency-Key": "k"})
    assert r.status_code == 409
    with api.session() as session:
        assert session.exec(select(Submission)).all() == []


def test_issue14_idempotency_does_not_store_refusals_to_retry(api_sqlite):
    api = api_sqlite
    c = api.client("physician")  # 403 is an answer: stored
    r1 = c.post("/studies", json={"name": "x"}, headers={"Idempotency-Key": "a"})
    r2 = c.post("/studies", json={"name": "x"}, headers={"Idempotency-Key": "a"})
    assert r1.status_code == r2.status_code == 403 and r2.headers["idempotent-replayed"] == "true"
    bad = api.client(None).post(
        "/studies",
        json={"name": "x"},
        headers={"Idempotency-Key": "a", "Authorization": "Bearer nope"},
    )
    assert bad.status_code == 401


def test_issue14_rate_limit_answers_429_with_retry_after(tmp_path):
    api = make_harness(f"sqlite:///{tmp_path / 'api.sqlite'}", rate_limit_per_minute=5)
    c = api.client("sponsor")
    codes = [c.get("/studies").status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    r = c.get("/studies")
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    # per account: another account is not slowed down
    assert api.client("steward").get("/studies").status_code == 200


class CountingServer:
    """The app, counting the request bytes it pulls (what a server would read)."""

    def __init__(self, app) -> None:
        self.app, self.read = app, 0

    async def __call__(self, scope, receive, send):
        async def counting():
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counting, send)


def _chunks(total: int, chunk: int):
    for _ in range(total // chunk):
        yield b"x" * chunk


def test_issue14_a_50mb_body_is_refused_413_from_content_length(api_sqlite):
    server = CountingServer(api_sqlite.app)
    total = 50 * 1024 * 1024
    headers = {
        **TEXT,
        "Content-Length": str(total),
        "Authorization": f"Bearer {api_sqlite.tokens['sponsor']}",
    }
    with TestClient(server) as c:
        r = c.post("/validate", content=_chunks(total, 1 << 20), headers=headers)
    assert r.status_code == 413
    assert server.read == 0  # refused on the header alone


def test_issue14_a_streamed_body_is_cut_at_the_limit(api_sqlite):
    """A chunked body (no Content-Length), sent 64 KiB at a time as a server receives it."""
    chunk, pulled, sent = b"x" * (64 * 1024), 0, []

    async def receive():
        nonlocal pulled
        pulled += 1
        if pulled > 800:  # 50 MiB
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        sent.append(message)

    token = api_sqlite.tokens["sponsor"].encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/validate",
        "raw_path": b"/validate",
        "root_path": "",
        "query_string": b"",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [
            (b"authorization", b"Bearer " + token),
            (b"content-type", b"text/plain"),
            (b"transfer-encoding", b"chunked"),
        ],
    }
    anyio.run(api_sqlite.app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert pulled * len(chunk) <= api_sqlite.settings.max_body_bytes + len(chunk)


@pytest.mark.parametrize("size", [1024, 900 * 1024])
def test_issue14_bodies_under_the_limit_pass(api_sqlite, size):
    text = EXAMPLE + "#" * size + "\n"
    r = api_sqlite.client("sponsor").post("/validate", content=text, headers=TEXT)
    assert r.status_code == 200


def test_issue14_tokens_are_stored_only_as_hashes(api):
    with api.session() as session:
        stored = {a.name: a.token_hash for a in session.exec(select(Account))}
    for token in api.tokens.values():
        assert token not in stored.values()
        assert all(token not in h for h in stored.values())
