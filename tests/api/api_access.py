"""Who may call which route: the declarations the access-matrix test walks.

Every route of the app must be declared here (``ROUTE_ACCESS``, keyed by method and route
template), or the matrix test fails. A declaration says which roles succeed, which callers
must get 404 because the object belongs to someone else (``foreign``), the path parameters
(from the world :func:`build_world` makes) and the body or query to send. Every other role
must get 403, and a missing, garbled or revoked token 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api_world_runs import FEEDBACK, runs_world

EXAMPLE = (Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp").read_text()

CALLERS = ("sponsor", "other_sponsor", "physician", "other_physician", "steward", "admin")


@dataclass(frozen=True)
class Access:
    allowed: frozenset[str]
    foreign: frozenset[str] = frozenset()
    public: bool = False
    params: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None
    json: Any = None
    content: str | None = None
    query: dict[str, str] = field(default_factory=dict)


def access(*allowed: str, foreign: tuple[str, ...] = (), **kw: Any) -> Access:
    return Access(frozenset(allowed), frozenset(foreign), **kw)


def _victim(api: Any, world: dict[str, Any]) -> dict[str, Any]:
    """A fresh account to revoke (each call revokes one)."""
    world["victims"] = world.get("victims", 0) + 1
    name = f"victim-{world['victims']}"
    api.add_account(name, name, "sponsor")
    return {"name": name}


SPONSOR_OBJECT = ("other_sponsor",)

ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    ("GET", "/health"): Access(frozenset(), public=True),
    ("GET", "/accounts"): access("admin"),
    ("POST", "/accounts"): access(
        "admin", json={"name": "new-one", "role": "steward"}, params=lambda api, w: {}
    ),
    ("POST", "/accounts/{name}/revoke"): access("admin", params=_victim),
    ("GET", "/studies"): access("sponsor", "other_sponsor", "steward"),
    ("POST", "/studies"): access("sponsor", "other_sponsor", json={"name": "S"}),
    ("GET", "/studies/{study_id}"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    ("POST", "/studies/{study_id}/submissions"): access(
        "sponsor", foreign=SPONSOR_OBJECT, content=EXAMPLE
    ),
    ("GET", "/studies/{study_id}/submissions"): access(
        "sponsor", "steward", foreign=SPONSOR_OBJECT
    ),
    ("GET", "/studies/{study_id}/submissions/{submission_id}"): access(
        "sponsor", "steward", foreign=SPONSOR_OBJECT
    ),
    ("GET", "/studies/{study_id}/versions"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    ("GET", "/studies/{study_id}/versions/{number}"): access(
        "sponsor", "steward", foreign=SPONSOR_OBJECT
    ),
    ("GET", "/studies/{study_id}/versions/{a}/diff/{b}"): access(
        "sponsor", "steward", foreign=SPONSOR_OBJECT
    ),
    ("POST", "/validate"): access(
        "sponsor", "other_sponsor", "physician", "other_physician", "steward", content=EXAMPLE
    ),
    ("GET", "/terms"): access(
        "sponsor",
        "other_sponsor",
        "physician",
        "other_physician",
        "steward",
        query={"q": "diabete"},
    ),
    ("GET", "/codesets/expand"): access(
        "sponsor",
        "other_sponsor",
        "physician",
        "other_physician",
        "steward",
        query={"expr": "atc A10BJ*"},
    ),
    ("GET", "/audit"): access("steward"),
    # feasibility runs, approvals, lists, feedback (objects from api_world_runs.runs_world)
    ("POST", "/studies/{study_id}/versions/{number}/runs"): access(
        "sponsor", "steward", foreign=SPONSOR_OBJECT
    ),
    ("GET", "/runs/{run_id}"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    ("POST", "/runs/{run_id}/what-if"): access(
        "sponsor",
        "steward",
        foreign=SPONSOR_OBJECT,
        params=lambda api, w: {"run_id": w["done_run_id"]},
        json={"order": ["adult"]},
    ),
    ("GET", "/studies/{study_id}/runs"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    ("POST", "/studies/{study_id}/versions/{number}/approval"): access("steward"),
    ("GET", "/approvals/queue"): access("steward"),
    ("POST", "/studies/{study_id}/versions/{number}/lists"): access(
        "steward", params=lambda api, w: {"study_id": w["adults_id"], "number": 1}
    ),
    ("GET", "/practices/{practice}/lists"): access(
        "physician", "steward", foreign=("other_physician",)
    ),
    ("GET", "/lists/{list_pk}"): access("physician", "steward", foreign=("other_physician",)),
    ("POST", "/lists/{list_pk}/feedback"): access(
        "physician", foreign=("other_physician",), json=FEEDBACK
    ),
    ("GET", "/studies/{study_id}/funnel"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    # the service's data (snapshot switch)
    ("GET", "/admin/data"): access("steward"),
    ("POST", "/admin/data"): access("steward", json=lambda w: {"path": w["data_dir"]}),
    # the routes of the web pages (matcher/web/routes.py)
    ("GET", "/me"): access(*CALLERS),
    ("POST", "/explain"): access("sponsor", "other_sponsor", "steward", content=EXAMPLE),
    ("GET", "/audit/verify"): access("steward"),
    ("GET", "/ledger"): access("steward"),
    ("GET", "/studies/{study_id}/overview"): access("sponsor", "steward", foreign=SPONSOR_OBJECT),
    ("GET", "/studies/{study_id}/draft"): access("sponsor", foreign=SPONSOR_OBJECT),
    ("PUT", "/studies/{study_id}/draft"): access(
        "sponsor", foreign=SPONSOR_OBJECT, json={"criteria": "study"}
    ),
    ("DELETE", "/studies/{study_id}/draft"): access("sponsor", foreign=SPONSOR_OBJECT),
}

PUBLIC_PAGES = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/", "/web"}
"""Routes outside the API (documentation), reachable without a token."""


def build_world(api: Any) -> dict[str, Any]:
    """Objects owned by ``sponsor`` (a study with a version and a submission): the path
    parameters of the routes. Extend it for new resources."""
    sponsor = api.client("sponsor")
    study = sponsor.post("/studies", json={"name": "owned"}).json()["id"]
    sub = sponsor.post(
        f"/studies/{study}/submissions", content=EXAMPLE, headers={"Content-Type": "text/plain"}
    ).json()
    world = {
        "study_id": study,
        "submission_id": sub["id"],
        "number": sub["version"],
        "a": sub["version"],
        "b": sub["version"],
    }
    return world | runs_world(api, world)
