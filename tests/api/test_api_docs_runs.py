"""Issue 14: the ``sh`` examples of docs/api.md (feasibility runs, approvals, lists, feedback)
run in order against a real ``p4dp serve`` with data, a ledger and a signing key."""

from __future__ import annotations

import json
import shutil

import pytest
from api_doc_blocks import REPO, doc_blocks, run_doc_blocks
from click.testing import CliRunner

from matcher.cli import main


def sh_blocks() -> list[str]:
    return doc_blocks("sh")


def test_issue14_api_doc_shows_every_run_and_list_route():
    joined = "\n".join(sh_blocks())
    for route in (
        "/runs",
        "/approvals/queue",
        "/approval",
        "/lists",
        "/practices/",
        "/feedback",
        "/funnel",
        "/what-if",
    ):
        assert route in joined, f"docs/api.md: no executed example uses {route}"


@pytest.mark.slow
def test_issue14_api_doc_run_and_list_examples_run_against_a_live_server(tmp_path, monkeypatch):
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed: the examples of docs/api.md cannot be run")
    runner = CliRunner()
    data = tmp_path / "data"
    res = runner.invoke(main, ["synth", "--patients", "3000", "--seed", "42", "--out", str(data)])
    assert res.exit_code == 0, res.output
    ledger = tmp_path / "ledger.sqlite"
    res = runner.invoke(main, ["ledger", "init", "--ledger", str(ledger), "--steward", "stella"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["keys", "init", "--out", str(tmp_path / "keys")])
    assert res.exit_code == 0, res.output
    monkeypatch.setenv("P4DP_LEDGER", str(ledger))
    monkeypatch.setenv("P4DP_SIGNING_KEY", str(tmp_path / "keys" / "platform-signing.key"))
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    blocks = sh_blocks()
    database = f"sqlite:///{tmp_path / 'api.sqlite'}"
    run_doc_blocks(blocks, database, cwd=work, data=data)
    listed = json.loads((work / "list.json").read_text())
    assert listed["format"] == "p4dp-candidate-list" and listed["signature"]
