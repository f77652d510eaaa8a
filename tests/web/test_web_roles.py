"""Issue 15, in a real browser: another sponsor cannot reach a study by its URL; a steward
approves, signs lists and reads the ledger and the audit log; a physician downloads the
signed list and posts feedback (in French by default)."""

from __future__ import annotations

import httpx
from web_harness import assert_accessible, css, go, screenshot, sign_in, wait_for

from matcher.web.demo import ADULTS, WORLD_STUDY, study_with_version


def test_issue15_a_sponsor_cannot_reach_another_sponsors_study_by_editing_the_url(
    browser, web_server, web_world
):
    study = study_with_version(web_server, web_world.tokens["sponsor"], "private study")
    sign_in(browser, web_server, web_world.tokens["other_sponsor"])
    for page in ("", "/editor", "/editor/1", "/versions/1/feasibility", "/diff/1/1"):
        go(browser, web_server, f"#/studies/{study}{page}", "main .alert")
        assert "Not found" in css(browser, "main .alert")[0].text
        assert "private study" not in css(browser, "main")[0].text
    screenshot(browser, "foreign-study")
    assert "private study" not in css(browser, "main")[0].text


def test_issue15_a_steward_approves_with_the_explanation_and_exact_counts_then_signs_lists(
    browser, web_server, web_world, shared
):
    study = study_with_version(web_server, web_world.tokens["sponsor"], "to approve")
    sign_in(browser, web_server, web_world.tokens["steward"], "#/approvals")
    card = wait_for(
        lambda: [c for c in css(browser, "article.card") if "to approve" in c.text],
        what="the queue",
    )[0]
    assert WORLD_STUDY in card.find_element("css selector", "pre").text  # the explanation
    card.find_element("css selector", "button.secondary").click()  # the exact count first
    card = wait_for(
        lambda: [
            c
            for c in css(browser, "article.card")
            if "to approve" in c.text and "Exact counts" in c.text
        ],
        timeout=120,
        what="the exact counts",
    )[0]
    assert_accessible(browser, "approvals")
    screenshot(browser, "approvals")
    card.find_element("css selector", "button.approve").click()
    wait_for(lambda: css(browser, "#approved"), what="approved")
    css(browser, "#approved button")[0].click()
    made = wait_for(
        lambda: [p.text for p in css(browser, "article.card p.ok") if "Candidate lists" in p.text],
        timeout=120,
        what="lists",
    )
    assert "(" in made[0]
    shared["approved_study"] = study


def test_issue15_a_steward_reads_the_ledger_and_the_audit_log_with_their_chain_checks(
    browser, web_server, web_world
):
    sign_in(browser, web_server, web_world.tokens["steward"], "#/ledger")
    wait_for(lambda: css(browser, "#chain"), what="the ledger")
    assert "intact" in css(browser, "#chain")[0].text
    assert_accessible(browser, "ledger")
    screenshot(browser, "ledger")
    go(browser, web_server, "#/audit", "#chain")
    assert "intact" in css(browser, "#chain")[0].text
    assert "GET /me" in css(browser, "main table")[0].text
    assert_accessible(browser, "audit")
    screenshot(browser, "audit")


def test_issue15_a_physician_downloads_the_signed_list_and_posts_feedback_in_french(
    browser, web_server, web_world, downloads
):
    criteria = ADULTS.replace(WORLD_STUDY, "WEB-PRACTICE")
    study = study_with_version(
        web_server, web_world.tokens["sponsor"], "for the practice", criteria
    )
    steward = {"Authorization": f"Bearer {web_world.tokens['steward']}"}
    run = httpx.post(
        f"{web_server}/studies/{study}/versions/1/runs", headers=steward, json={}
    ).json()
    wait_for(
        lambda: (
            httpx.get(f"{web_server}/runs/{run['id']}", headers=steward).json()["status"] == "done"
        ),
        timeout=120,
        what="the run",
    )
    httpx.post(
        f"{web_server}/studies/{study}/versions/1/approval", headers=steward, json={}
    ).raise_for_status()
    lists = httpx.post(
        f"{web_server}/studies/{study}/versions/1/lists", headers=steward, json={}, timeout=120
    ).json()
    practice = lists[0]["practice"]
    signed = httpx.get(f"{web_server}/lists/{lists[0]['id']}", headers=steward).content
    token = web_world.add_account("dr-web", "physician", practice)
    sign_in(browser, web_server, token)
    wait_for(
        lambda: (
            css(browser, "main h1") and "Listes de candidats" in css(browser, "main h1")[0].text
        ),
        what="the French page",
    )
    assert css(browser, "html")[0].get_attribute("lang") == "fr"
    row = next(r for r in css(browser, "main tbody tr") if "WEB-PRACTICE" in r.text)
    assert row.find_elements("css selector", "td")[3].text.replace("\u202f", "").isdigit()
    assert "p4dp practice reidentify" in css(browser, "main .note")[0].text
    assert_accessible(browser, "lists")
    screenshot(browser, "physician-lists")
    row.find_element("css selector", "button.download").click()
    got = wait_for(
        lambda: [p for p in downloads.iterdir() if p.suffix == ".json"], what="the download"
    )
    assert got[0].read_bytes() == signed  # byte for byte: the kit can check the signature
    row.find_element("css selector", "a").click()
    wait_for(lambda: css(browser, "#send-feedback"), what="the feedback form")
    field = css(browser, "#outcome-contacted")[0]
    field.clear()
    field.send_keys("1")
    assert_accessible(browser, "feedback")
    css(browser, "#send-feedback")[0].click()
    sent = wait_for(
        lambda: css(browser, "#feedback-ok") and css(browser, "#feedback-ok")[0].text,
        what="the feedback",
    )
    assert "Retour enregistré" in sent
    screenshot(browser, "physician-feedback")
    funnel = httpx.get(f"{web_server}/studies/{study}/funnel", headers=steward).json()
    assert funnel["outcomes"]["contacted"] == 1
    # English on demand
    css(browser, "#lang option[value=en]")[0].click()
    wait_for(lambda: "Feedback" in css(browser, "main h1")[0].text, what="English")


def test_issue15_an_unknown_token_is_refused_with_a_message_and_nothing_shown(browser, web_server):
    browser.get(web_server + "/health")
    browser.execute_script("sessionStorage.clear(); localStorage.clear();")
    browser.get(web_server + "/#/studies")
    wait_for(lambda: css(browser, "#token"), what="the sign-in form")[0].send_keys(
        "p4dp_not-a-token"
    )
    css(browser, "form.card button")[0].click()
    alert = wait_for(
        lambda: css(browser, "main .alert") and css(browser, "main .alert")[0].text,
        what="the refusal",
    )
    assert "unknown or revoked" in alert
    assert css(browser, "#token") and not css(browser, "main table")
    assert_accessible(browser, "sign-in")
    screenshot(browser, "sign-in")
