"""Issue 14, audit: one hash-chained row per request, refusals included, no patient data;
``p4dp audit verify`` finds an edited, inserted or deleted row; stewards read it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import select

from matcher.api.audit import verify_audit
from matcher.api.models import AuditRow
from matcher.cli import main

MARKER = "PATIENT-7f3a-SECRET"


def _rows(api) -> list[AuditRow]:
    with api.session() as session:
        return list(session.exec(select(AuditRow).order_by(AuditRow.seq)))


def _traffic(api) -> None:
    api.client(None).get("/studies")
    api.client("sponsor").post("/studies", json={"name": MARKER})
    api.client("other_sponsor").get("/studies/1")
    api.client("physician").get("/studies", params={"q": MARKER})
    api.client("sponsor").post("/validate", content=f"# {MARKER}\n", headers={"X": MARKER})
    api.client("steward").get(f"/nowhere/{MARKER}")


def test_issue14_every_request_is_one_audit_row_refusals_included(api):
    _traffic(api)
    rows = _rows(api)
    assert [(r.who, r.role, r.method, r.route, r.object, r.status, r.decision) for r in rows] == [
        ("-", "-", "GET", "/studies", "", 401, "refused"),
        ("sponsor-sam", "sponsor", "POST", "/studies", "", 201, "allowed"),
        ("sponsor-olga", "sponsor", "GET", "/studies/{study_id}", "study_id=1", 404, "refused"),
        ("dr-pia", "physician", "GET", "/studies", "", 403, "refused"),
        ("sponsor-sam", "sponsor", "POST", "/validate", "", 200, "allowed"),
        ("steward-stella", "steward", "GET", "(unmatched)", "", 404, "refused"),
    ]
    assert rows[3].scope == "P001" and rows[0].scope == "-"
    assert [r.seq for r in rows] == list(range(1, 7))
    assert all(MARKER not in str(r.model_dump()) for r in rows), "request data in the audit"
    assert verify_audit(api.app.state.engine).ok


def test_issue14_stewards_read_the_audit_log_newest_first(api):
    _traffic(api)
    got = api.client("steward").get("/audit", params={"limit": 3})
    assert got.status_code == 200
    assert [r["seq"] for r in got.json()] == [6, 5, 4]
    page = api.client("steward").get("/audit", params={"before": 3}).json()
    assert [r["seq"] for r in page] == [2, 1]
    assert api.client("sponsor").get("/audit").status_code == 403
    # the refusal above and the reads are audited too
    assert _rows(api)[-1].route == "/audit" and _rows(api)[-1].status == 403


TAMPERING = {
    "edited": ["UPDATE api_audit SET who = 'someone-else' WHERE seq = 2"],
    "deleted in the middle": ["DELETE FROM api_audit WHERE seq = 3"],
    "deleted at the end": ["DELETE FROM api_audit WHERE seq = 6"],
    "inserted": [
        "UPDATE api_audit SET seq = seq + 100 WHERE seq >= 4",
        "UPDATE api_audit SET seq = seq - 99 WHERE seq >= 104",
        "INSERT INTO api_audit (seq, at, who, role, scope, method, route, object, status, "
        "decision, prev, hash) SELECT 4, at, who, role, scope, method, route, object, status, "
        "decision, prev, hash FROM api_audit WHERE seq = 3",
    ],
}


@pytest.mark.parametrize("how", sorted(TAMPERING))
def test_issue14_audit_verify_detects_tampering(api, how):
    _traffic(api)
    engine = api.app.state.engine
    assert verify_audit(engine).ok
    with engine.begin() as connection:
        for statement in TAMPERING[how]:
            connection.execute(text(statement))
    report = verify_audit(engine)
    assert not report.ok, how
    result = CliRunner().invoke(main, ["audit", "verify", "--database", str(engine.url)])
    assert result.exit_code == 1
    assert "TAMPERED" in result.output


def test_issue14_audit_verify_command_on_an_intact_log(api_sqlite):
    _traffic(api_sqlite)
    url = str(api_sqlite.app.state.engine.url)
    result = CliRunner().invoke(main, ["audit", "verify", "--database", url])
    assert result.exit_code == 0, result.output
    assert "intact: 6 rows" in result.output
