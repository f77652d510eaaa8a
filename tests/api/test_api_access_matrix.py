"""Issue 14, security: the full role × route × foreign-object matrix, from the app's routes."""

from __future__ import annotations

import dataclasses
import re

import pytest
from api_access import CALLERS, PUBLIC_PAGES, ROUTE_ACCESS, build_world
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

BAD_TOKENS = {
    "missing": None,
    "garbled": "Bearer not-a-token-%%%",
    "wrong scheme": "Basic c3BvbnNvcjpzZWNyZXQ=",
    "empty": "Bearer ",
}


def app_routes(app) -> list[tuple[str, str]]:
    """(method, template) of every API route, included routers flattened."""
    out = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            out.extend((m, context.path) for m in sorted(context.original_route.methods))
        else:
            assert context.path in PUBLIC_PAGES, f"{context.path}: a route outside the API"
    return out


def test_issue14_every_route_is_declared_in_the_access_matrix(api_sqlite):
    undeclared = [r for r in app_routes(api_sqlite.app) if r not in ROUTE_ACCESS]
    assert not undeclared, f"declare these routes in tests/api/api_access.py: {undeclared}"
    stale = set(ROUTE_ACCESS) - set(app_routes(api_sqlite.app))
    assert not stale, f"declared but not in the app: {stale}"


def _call(client: TestClient, method: str, path: str, spec, headers=None):
    kwargs: dict = {"params": spec.query, "headers": dict(headers or {})}
    if spec.json is not None:
        kwargs["json"] = spec.json
    elif spec.content is not None:
        kwargs["content"] = spec.content
        kwargs["headers"]["Content-Type"] = "text/plain"
    return client.request(method, path, **kwargs)


def _path(template: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), template)


def test_issue14_role_route_foreign_object_matrix(api):
    world = build_world(api)
    revoked = api.add_account("revoked", "sponsor-revoked", "sponsor")
    api.client("revoked")
    with api.session() as session:
        from matcher.api.accounts import revoke_account

        revoke_account(session, "sponsor-revoked")
    anonymous = TestClient(api.app)
    failures = []
    for method, template in app_routes(api.app):
        spec = ROUTE_ACCESS[(method, template)]
        if callable(spec.json):  # a body naming objects of the world
            spec = dataclasses.replace(spec, json=spec.json(world))

        def values(spec=spec):
            return {**world, **(spec.params(api, world) if spec.params else {})}

        if spec.public:
            r = _call(anonymous, method, _path(template, values()), spec)
            if r.status_code >= 400:
                failures.append((method, template, "anonymous", r.status_code))
            continue
        for label, header in [*BAD_TOKENS.items(), ("revoked", f"Bearer {revoked}")]:
            headers = {"Authorization": header} if header else {}
            r = _call(anonymous, method, _path(template, values()), spec, headers)
            if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                failures.append((method, template, label, r.status_code))
        for caller in CALLERS:
            r = _call(api.client(caller), method, _path(template, values()), spec)
            if caller in spec.foreign:
                expected = "404"
                ok = r.status_code == 404
            elif caller in spec.allowed:
                expected = "2xx"
                ok = 200 <= r.status_code < 300
            else:
                expected = "403"
                ok = r.status_code == 403
            if not ok:
                failures.append((method, template, caller, r.status_code, f"expected {expected}"))
    assert not failures, "\n".join(map(str, failures))


@pytest.mark.parametrize("caller", ["physician", "admin"])
def test_issue14_nobody_but_sponsors_and_stewards_learns_a_study_exists(api, caller):
    world = build_world(api)
    for sid in (world["study_id"], 999_999):
        assert api.client(caller).get(f"/studies/{sid}").status_code == 403
    assert api.client("other_sponsor").get("/studies/999999").status_code == 404
    assert api.client("other_sponsor").get(f"/studies/{world['study_id']}").status_code == 404
    assert api.client("other_sponsor").get("/studies").json() == []
