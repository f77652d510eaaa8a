"""Issue 14 items "lists through the one library function" and "the funnel check in the
library": the API issues lists with ``issue_candidate_lists`` (the same ledger rows as ``p4dp
candidates issue``), and both doors refuse exact funnels to non-stewards of the ledger."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.data.open import open_data
from matcher.disclosure.ledger import Ledger, NotStewardError
from matcher.services import operator_name
from matcher.services.funnel import authorise_funnel

EXAMPLE_PATH = Path(__file__).parents[2] / "examples" / "t2d_glp1.p4dp"
TEXT = {"Content-Type": "text/plain"}


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    root = tmp_path_factory.mktemp("lists-ledger")
    runner = CliRunner()
    res = runner.invoke(
        main, ["synth", "--patients", "2000", "--seed", "7", "--out", str(root / "d")]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["keys", "init", "--out", str(root / "keys")])
    assert res.exit_code == 0, res.output
    return {"data": root / "d", "key": root / "keys" / "platform-signing.key", "root": root}


def new_ledger(path: Path) -> Path:
    stewards = ["--steward", "steward-stella", "--steward", operator_name()]
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(path), *stewards])
    assert res.exit_code == 0, res.output
    return path


def rows(ledger: Path) -> list[tuple]:
    """The ledger's issuance rows without what differs by nature (ids, times, who, list ids)."""
    opened = Ledger.open(ledger)
    queries = opened.queries()
    out = []
    for q in queries:
        lists = q.view.removeprefix("candidate lists ").split()
        releases = sorted(
            (r.what, r.true_count, r.released) for r in opened.releases() if r.query_id == q.id
        )
        head = (q.kind, q.role, q.study_id, q.criteria_hash, q.data_snapshot, q.eligible_true)
        out.append((*head, q.policy, len(lists), tuple(releases)))
    return out


def test_issue14_api_lists_record_the_same_ledger_rows_as_p4dp_candidates_issue(
    api, platform, tmp_path
):
    cli_ledger = new_ledger(tmp_path / "cli-ledger.sqlite")
    res = CliRunner().invoke(
        main,
        [
            "candidates",
            "issue",
            str(EXAMPLE_PATH),
            "--data",
            str(platform["data"]),
            "--out",
            str(tmp_path / "lists"),
            "--signing-key",
            str(platform["key"]),
            "--ledger",
            str(cli_ledger),
        ],
    )
    assert res.exit_code == 0, res.output
    api_ledger = new_ledger(tmp_path / "api-ledger.sqlite")
    api.settings.ledger, api.settings.signing_key = str(api_ledger), str(platform["key"])
    api.settings.data = open_data(platform["data"])
    sid = api.client("sponsor").post("/studies", json={"name": "T2D"}).json()["id"]
    r = api.client("sponsor").post(
        f"/studies/{sid}/submissions", content=EXAMPLE_PATH.read_text(), headers=TEXT
    )
    assert r.status_code == 201, r.text
    steward = api.client("steward")
    assert steward.post(f"/studies/{sid}/versions/1/approval").status_code == 201
    made = steward.post(f"/studies/{sid}/versions/1/lists")
    assert made.status_code == 201, made.text
    by_cli, by_api = rows(cli_ledger), rows(api_ledger)
    assert len(by_api) == 1 and by_api[0][0] == "candidates"
    assert by_api == by_cli
    recorded = Ledger.open(api_ledger).queries()[0]
    assert recorded.operator == recorded.requester == "steward-stella"
    listed = {lst["list_id"] for lst in made.json()}
    assert set(recorded.view.removeprefix("candidate lists ").split()) == listed


def test_issue14_api_lists_refused_to_a_steward_not_in_the_ledger(api, platform, tmp_path):
    ledger = tmp_path / "other.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger), "--steward", "x"])
    assert res.exit_code == 0, res.output
    api.settings.ledger, api.settings.signing_key = str(ledger), str(platform["key"])
    api.settings.data = open_data(platform["data"])
    sid = api.client("sponsor").post("/studies", json={"name": "T2D"}).json()["id"]
    api.client("sponsor").post(
        f"/studies/{sid}/submissions", content=EXAMPLE_PATH.read_text(), headers=TEXT
    )
    steward = api.client("steward")
    assert steward.post(f"/studies/{sid}/versions/1/approval").status_code == 201
    refused = steward.post(f"/studies/{sid}/versions/1/lists")
    assert refused.status_code == 409 and "not a steward" in refused.json()["detail"]
    assert Ledger.open(ledger).queries() == []
    funnel = steward.get(f"/studies/{sid}/funnel")
    assert funnel.status_code == 409 and "not a steward" in funnel.json()["detail"]
    assert api.client("sponsor").get(f"/studies/{sid}/funnel").status_code == 200


def test_issue14_funnel_check_is_one_library_function(tmp_path):
    ledger = tmp_path / "l.sqlite"
    res = CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger), "--steward", "x"])
    assert res.exit_code == 0, res.output
    assert authorise_funnel("steward", "x", ledger=str(ledger)) == "steward"
    with pytest.raises(NotStewardError):
        authorise_funnel("steward", "y", ledger=Ledger.open(ledger))
    assert authorise_funnel("sponsor", "y", ledger=tmp_path / "missing.sqlite") == "sponsor"
    cli = CliRunner().invoke(
        main,
        [
            "candidates",
            "feedback",
            str(tmp_path / "none.json"),
            "--study",
            str(EXAMPLE_PATH),
            "--role",
            "steward",
            "--ledger",
            str(ledger),
        ],
    )
    assert cli.exit_code == 1 and "not a steward" in cli.output  # this OS account is not "x"
