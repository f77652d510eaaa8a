"""Issue 13, ``p4dp candidates feedback``: the recruitment funnel across practices, exact for
a steward, under the count rules for a sponsor (no number in 1..9, no line per practice)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from criteria_dsl import compile_file
from matcher.candidates.feedback import (
    OUTCOMES,
    Feedback,
    FeedbackError,
    funnel,
    read_feedback,
    release_funnel,
)
from matcher.cli import main
from matcher.disclosure.audit import cell_ranges
from matcher.disclosure.policy import DisclosurePolicy
from matcher.disclosure.rounding import preimage
from matcher.disclosure.suppression import domain, protection_width

STUDY = Path(__file__).resolve().parents[2] / "examples" / "t2d_glp1.p4dp"


def _doc(list_id: str, practice: str, outcomes: dict[str, int], failed: dict[str, int]) -> dict:
    return {
        "format": "p4dp-feedback",
        "version": 1,
        "list_id": list_id,
        "study_id": "T2D-GLP1",
        "study_version": 2,
        "practice_id": practice,
        "created": "2026-08-01T10:00:00Z",
        "candidates": sum(outcomes.values()),
        "outcomes": {k: outcomes.get(k, 0) for k in OUTCOMES},
        "failed_rules": failed,
    }


@pytest.fixture
def returns(tmp_path) -> list[Path]:
    docs = [
        _doc("l1", "P001", {"not_contacted": 20, "contacted": 8, "declined": 6,
                            "not_eligible": 9, "enrolled": 3}, {"uncontrolled": 6, "adult": 1}),
        _doc("l2", "P002", {"not_contacted": 15, "contacted": 4, "declined": 7,
                            "not_eligible": 5, "enrolled": 4}, {"uncontrolled": 5, "insulin": 2}),
    ]  # fmt: skip
    paths = []
    for doc in docs:
        path = tmp_path / f"{doc['list_id']}.json"
        path.write_text(json.dumps(doc))
        paths.append(path)
    return paths


def test_issue13_feedback_funnel_across_practices(returns):
    f = funnel([read_feedback(p) for p in returns], compile_file(STUDY))
    assert f.listed == 81 and f.lists == 2 and f.practices == 2
    assert f.reached == 8 + 6 + 3 + 4 + 7 + 4
    assert f.outcomes["enrolled"] == 7
    assert list(f.failed_rules) == ["uncontrolled", "insulin", "adult"]
    assert f.failed_rules["uncontrolled"] == 11


def test_issue13_feedback_masks_small_counts_for_sponsors(returns):
    f = funnel([read_feedback(p) for p in returns], compile_file(STUDY))
    sponsor = release_funnel(f, "sponsor")
    assert sponsor["listed"] == 80
    assert sponsor["outcomes"]["not_contacted"] == 35
    assert sponsor["outcomes"]["enrolled"] == "<10"
    assert sponsor["failed_rules"] == {"uncontrolled": 10, "adult": "<10", "insulin": "<10"}
    assert "per_practice" not in sponsor and "reached" not in sponsor
    steward = release_funnel(f, "steward")
    assert steward["outcomes"]["enrolled"] == 7
    assert steward["per_practice"]["P002"]["declined"] == 7


@given(st.lists(st.integers(0, 40), min_size=5, max_size=5), st.integers(0, 30))
def test_issue13_feedback_sponsor_sees_no_count_between_1_and_9(counts, failed):
    outcomes = dict(zip(OUTCOMES, counts, strict=True))
    fb = Feedback("l", "S", 1, "P", "x", sum(counts), outcomes, {"r": failed})
    released = release_funnel(funnel([fb]), "sponsor")
    values = [released["listed"], *released["outcomes"].values(), released["failed_rules"]["r"]]
    assert not [v for v in values if isinstance(v, int) and 0 < v < 10]
    # No masked outcome can be narrowed down from the released listed total and other cells:
    # an attacker's exact range of each one holds at least the protection width.
    policy = DisclosurePolicy()
    listed = released["listed"]
    total = preimage(listed, policy) if isinstance(listed, int) else (0, policy.threshold - 1)
    shown = released["outcomes"]

    def status(value):
        return "shown" if isinstance(value, int) else "primary" if value == "<10" else "secondary"

    bounds = {("all", k): domain(status(v), v, policy) for k, v in shown.items()}
    targets = [("all", k) for k, v in shown.items() if not isinstance(v, int)]
    ranges = cell_ranges(bounds, row_bounds={"all": total}, targets=targets)
    for (_, key), rng in ranges.items():
        assert rng is not None
        lo, hi = rng
        width = protection_width(status(shown[key]), policy)
        assert hi is None or hi - lo + 1 >= width, (key, rng)


def test_issue13_feedback_refusals(returns, tmp_path):
    docs = [read_feedback(p) for p in returns]
    with pytest.raises(FeedbackError, match="feedback given twice"):
        funnel([docs[0], docs[0]])
    other = compile_file(STUDY.parent / "ckd_sglt2.p4dp")
    with pytest.raises(FeedbackError, match="not CKD"):
        funnel(docs, other)
    bad = json.loads(returns[0].read_text())
    bad["failed_rules"] = {"no_such_rule": 1}
    bad["list_id"] = "l9"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(FeedbackError, match="no_such_rule not in study T2D-GLP1"):
        funnel([read_feedback(path)], compile_file(STUDY))
    bad = json.loads(returns[0].read_text())
    bad["names"] = ["Dupont"]
    path.write_text(json.dumps(bad))
    with pytest.raises(FeedbackError, match=r"unknown field.*names"):
        read_feedback(path)
    bad = json.loads(returns[0].read_text())
    bad["candidates"] = 3
    path.write_text(json.dumps(bad))
    with pytest.raises(FeedbackError, match="more than the 3 candidates"):
        read_feedback(path)


def test_issue13_feedback_cli(returns, tmp_path):
    runner = CliRunner()
    sponsor = runner.invoke(main, ["candidates", "feedback", *map(str, returns), "--study",
                                   str(STUDY)])  # fmt: skip
    assert sponsor.exit_code == 0, sponsor.output
    assert "listed            80" in sponsor.output
    assert "enrolled          <10" in sponsor.output
    assert "P001" not in sponsor.output
    args = ["candidates", "feedback", *map(str, returns), "--study", str(STUDY)]
    ledger = str(tmp_path / "ledger.sqlite")
    args += ["--ledger", ledger]
    refused = runner.invoke(main, [*args, "--role", "steward"])  # no ledger yet: no steward
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert runner.invoke(main, ["ledger", "init", "--ledger", ledger]).exit_code == 0
    steward = runner.invoke(main, [*args, "--role", "steward", "--format", "json"])
    assert steward.exit_code == 0, steward.output
    assert json.loads(steward.output)["outcomes"]["enrolled"] == 7
    broken = runner.invoke(main, ["candidates", "feedback", str(returns[0]), str(returns[0]),
                                  "--study", str(STUDY)])  # fmt: skip
    assert broken.exit_code == 1
    assert "Error: list l1: feedback given twice" in broken.output
