"""Issue 15: the routes the web pages need (``matcher/web/routes.py``) and the pages' headers.

Who may call them is in the access matrix (``api_access.py``); here, what they answer."""

from __future__ import annotations

import time
from pathlib import Path

from matcher.api.models import AuditRow

EXAMPLE = (Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp").read_text()
TEXT = {"Content-Type": "text/plain"}


def _study(api, name: str = "S") -> int:
    sponsor = api.client("sponsor")
    study = sponsor.post("/studies", json={"name": name}).json()["id"]
    assert (
        sponsor.post(f"/studies/{study}/submissions", content=EXAMPLE, headers=TEXT).status_code
        == 201
    )
    return study


def test_issue15_me_says_who_the_token_is_without_the_token(api):
    me = api.client("physician").get("/me").json()
    assert (me["role"], me["practice"], me["budget_left"]) == ("physician", "P001", None)
    assert "token" not in api.client("sponsor").get("/me").text


def test_issue15_the_page_is_served_at_the_root_with_a_strict_content_security_policy(api):
    page = api.client(None).get("/")
    assert page.status_code == 200 and 'src="/web/app.js"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    script = api.client(None).get("/web/editor.js")
    assert script.status_code == 200 and script.headers["x-content-type-options"] == "nosniff"
    assert api.client(None).get("/web/../app.py").status_code == 404


def test_issue15_no_third_party_asset_and_no_inline_script_in_the_pages():
    static = Path(__file__).parents[2] / "matcher" / "web" / "static"
    html = (static / "index.html").read_text()
    assert "<script>" not in html and "http" not in html.replace('href="/web', "")
    for script in static.glob("*.js"):
        text = script.read_text()
        # only the editor writes markup: the highlighted copy, every character escaped
        assert ".innerHTML" not in text or script.name == "editor.js", script.name
        assert "eval(" not in text and "https://" not in text, script.name


def test_issue15_explain_renders_the_criteria_in_plain_language_or_says_where_it_is_wrong(api):
    sponsor = api.client("sponsor")
    out = sponsor.post("/explain", content=EXAMPLE, headers=TEXT)
    assert out.status_code == 200 and "T2D-GLP1" in out.json()["text"]
    bad = sponsor.post(
        "/explain", content=EXAMPLE.replace("diagnosis t2d\n", "diagnosis t2dd\n"), headers=TEXT
    )
    assert bad.status_code == 422
    assert any("t2dd" in d["message"] for d in bad.json()["detail"])


def test_issue15_overview_gives_versions_with_their_status_and_the_draft(api):
    study = _study(api)
    sponsor = api.client("sponsor")
    out = sponsor.get(f"/studies/{study}/overview").json()
    assert [(v["number"], v["status"]) for v in out["versions"]] == [(1, "submitted")]
    assert out["last_run"] is None and out["draft"] is False
    steward = api.client("steward")
    assert steward.post(f"/studies/{study}/versions/1/approval", json={}).status_code == 201
    assert sponsor.get(f"/studies/{study}/overview").json()["versions"][0]["status"] == "approved"


def test_issue15_a_draft_is_kept_per_sponsor_replaced_and_forgotten(api):
    study = _study(api)
    sponsor = api.client("sponsor")
    assert sponsor.get(f"/studies/{study}/draft").json()["criteria"] is None
    assert sponsor.put(f"/studies/{study}/draft", json={"criteria": "first"}).status_code == 200
    assert sponsor.put(f"/studies/{study}/draft", json={"criteria": "second"}).status_code == 200
    assert sponsor.get(f"/studies/{study}/draft").json()["criteria"] == "second"
    assert sponsor.get(f"/studies/{study}/overview").json()["draft"] is True
    other = api.client("other_sponsor")
    assert other.get(f"/studies/{study}/draft").status_code == 404
    assert other.put(f"/studies/{study}/draft", json={"criteria": "x"}).status_code == 404
    assert sponsor.delete(f"/studies/{study}/draft").json() == {"deleted": True}
    assert sponsor.get(f"/studies/{study}/draft").json()["criteria"] is None


def test_issue15_audit_verify_reports_an_intact_chain_then_an_edited_row(api):
    steward = api.client("steward")
    steward.get("/me")
    ok = steward.get("/audit/verify").json()
    assert ok["ok"] is True and ok["rows"] >= 1 and ok["problems"] == []
    with api.session() as session:
        row = session.get(AuditRow, 1)
        row.status = 299
        session.add(row)
        session.commit()
    broken = steward.get("/audit/verify").json()
    assert broken["ok"] is False and any("edited" in p for p in broken["problems"])


def test_issue15_audit_verify_on_a_live_server_counts_rows_appended_while_it_reads(api_sqlite):
    """The audit page checks the chain while requests keep arriving: a row appended between
    reading the rows and reading the head is not a broken chain."""
    import threading

    from matcher.api.audit import AuditEntry, append_audit, verify_audit

    engine = api_sqlite.app.state.engine
    entry = AuditEntry("w", "steward", "", "GET", "/me", "{}", 200)
    stop = threading.Event()

    def keep_appending() -> None:
        while not stop.is_set():
            append_audit(engine, entry)

    writer = threading.Thread(target=keep_appending)
    writer.start()
    reports = []
    try:
        # at least 40 checks, and on until rows were appended during them (a busy machine may
        # schedule the writer late), for at most a minute
        deadline = time.monotonic() + 60
        while len(reports) < 40 or reports[-1].rows <= reports[0].rows:
            reports.append(verify_audit(engine))
            if time.monotonic() > deadline:
                break
    finally:
        stop.set()
        writer.join()
    assert all(r.ok for r in reports), [r.problems for r in reports if not r.ok][:1]
    assert reports[-1].rows > reports[0].rows
