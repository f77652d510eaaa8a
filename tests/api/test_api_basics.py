"""Issue 14: the service's basic flow — accounts, studies, submissions, versions, diff."""

from __future__ import annotations

from pathlib import Path

EXAMPLE = (Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp").read_text()
TEXT = {"Content-Type": "text/plain"}


def make_study(api, who="sponsor", name="T2D") -> int:
    r = api.client(who).post("/studies", json={"name": name})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_issue14_submission_creates_version_and_same_hash_reuses_it(api):
    sid = make_study(api)
    c = api.client("sponsor")
    first = c.post(f"/studies/{sid}/submissions", content=EXAMPLE, headers=TEXT)
    assert first.status_code == 201 and first.json()["version"] == 1
    assert first.json()["criteria_hash"].startswith("sha256:")
    # same meaning, other layout: the same version
    again = c.post(f"/studies/{sid}/submissions", content="\n\n" + EXAMPLE, headers=TEXT)
    assert again.status_code == 200 and again.json()["version"] == 1
    assert again.json()["new_version"] is False
    changed = EXAMPLE.replace("param min_age = 50", "param min_age = 55")
    second = c.post(f"/studies/{sid}/submissions", content=changed, headers=TEXT)
    assert second.status_code == 201 and second.json()["version"] == 2
    versions = c.get(f"/studies/{sid}/versions").json()
    assert [v["number"] for v in versions] == [1, 2]
    diff = c.get(f"/studies/{sid}/versions/1/diff/2").json()
    assert [r["rule"] for r in diff["rules"]] == ["adult"]
    assert "50" in diff["rules"][0]["before"]["text"] and "55" in diff["rules"][0]["after"]["text"]


def test_issue14_invalid_submission_is_kept_rejected_never_a_version(api):
    sid = make_study(api)
    c = api.client("sponsor")
    bad = EXAMPLE.replace("has diagnosis t2d", "has diagnosis t2dd")
    r = c.post(f"/studies/{sid}/submissions", content=bad, headers=TEXT)
    assert r.status_code == 422
    body = r.json()
    assert body["status"] == "rejected" and body["version"] is None
    error = next(d for d in body["diagnostics"] if d["severity"] == "error")
    assert error["line"] == 21 and error["column"] > 1 and "t2dd" in error["message"]
    assert c.get(f"/studies/{sid}/versions").json() == []
    subs = c.get(f"/studies/{sid}/submissions").json()
    assert [s["status"] for s in subs] == ["rejected"]
