"""Issue 13, practice kit: feedback holds counts per outcome and failed rule, never names."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from practice_helpers import signed_list

from matcher.cli import main
from matcher.practice.feedback import OutcomesError, build_feedback
from matcher.practice.keys import load_key, practice_tokens


@pytest.fixture
def candidate_list(practices, platform, tmp_path) -> tuple[Path, pl.DataFrame, list[str]]:
    key = load_key(practices.key_path("PR0001"), "practice")
    patients = pl.read_csv(practices.export("PR0001", "csv") / "patients.csv", infer_schema=False)
    chosen = patients.head(6)
    tokens = practice_tokens(key, chosen["local_id"].to_list())
    return signed_list(platform.signing, tokens, path=tmp_path / "list.json"), chosen, tokens


def _outcomes(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "outcomes.csv"
    path.write_text(text)
    return path


def test_issue13_feedback_counts_outcomes_and_failed_rules(tmp_path, candidate_list) -> None:
    path, chosen, tokens = candidate_list
    outcomes = _outcomes(
        tmp_path,
        "row,outcome,failed_rule\n1,enrolled,\n2,Not eligible,hba1c\n3,declined,\n"
        "4,not_eligible,hba1c; adult\n5,contacted,\n",
    )
    doc = build_feedback(path, outcomes)
    assert doc["format"] == "p4dp-feedback" and doc["candidates"] == 6
    assert doc["outcomes"] == {
        "not_contacted": 1,
        "contacted": 1,
        "declined": 1,
        "not_eligible": 2,
        "enrolled": 1,
    }
    assert doc["failed_rules"] == {"adult": 1, "hba1c": 2}
    assert (doc["list_id"], doc["study_id"], doc["practice_id"]) == ("a" * 32, "T2D-GLP1", "PR0001")
    text = json.dumps(doc)
    for value in [*tokens, *chosen["local_id"], *chosen["family_name"], *chosen["national_id"]]:
        assert value not in text
    assert set(doc) == {
        "format", "version", "list_id", "study_id", "study_version", "practice_id", "created",
        "candidates", "outcomes", "failed_rules",
    }  # fmt: skip


def test_issue13_feedback_by_local_id_needs_key_and_export(
    practices, tmp_path, candidate_list
) -> None:
    path, chosen, _tokens = candidate_list
    ids = chosen["local_id"].to_list()
    outcomes = _outcomes(tmp_path, f"local_id,outcome\n{ids[0]},enrolled\n{ids[5]},declined\n")
    with pytest.raises(OutcomesError, match="need --key and --export"):
        build_feedback(path, outcomes)
    key = load_key(practices.key_path("PR0001"), "practice")
    doc = build_feedback(path, outcomes, key=key, export_dir=practices.export("PR0001", "csv"))
    assert doc["outcomes"]["enrolled"] == 1 and doc["outcomes"]["declined"] == 1
    assert doc["outcomes"]["not_contacted"] == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("row,outcome\n9,enrolled\n", "outcomes.csv:2: row '9' is not a row of the list"),
        ("row,outcome\n1,maybe\n", "outcomes.csv:2: outcome must be one of"),
        ("row,outcome,failed_rule\n1,declined,hba1c\n", "only given with not_eligible"),
        ("row,outcome,failed_rule\n1,not_eligible,bmi\n", "'bmi' is not a rule of the study"),
        ("row,outcome\n1,enrolled\n1,declined\n", "outcomes.csv:3: list row 1 has a second"),
        ("who,what\n1,enrolled\n", "needs columns 'row'"),
        ("row,outcome\n1,enrolled,extra\n", "wrong number of fields"),
    ],
)
def test_issue13_bad_outcomes_are_one_error_and_nothing_written(
    tmp_path, candidate_list, text, message
) -> None:
    path, _chosen, _tokens = candidate_list
    outcomes = _outcomes(tmp_path, text)
    out = tmp_path / "feedback.json"
    result = CliRunner().invoke(
        main, ["practice", "feedback", str(path), "--outcomes", str(outcomes), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and message in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_issue13_feedback_cli_writes_the_file(tmp_path, candidate_list) -> None:
    path, _chosen, _tokens = candidate_list
    outcomes = _outcomes(tmp_path, "row,outcome\n1,enrolled\n")
    out = tmp_path / "feedback.json"
    args = ["practice", "feedback", str(path), "--outcomes", str(outcomes), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["outcomes"]["enrolled"] == 1
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "already exists" in again.output
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0
