"""Issue 18 (language reach): ``p4dp count`` warns when ``observations.value_code`` is not
provided and a rule needs it (smoking status), as it warns for an optional table not provided:
the rule is unknown for every patient because the column is absent, not because no one smokes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from click.testing import CliRunner
from feasibility_helpers import CRITERIA, write_dataset

from criteria_dsl import compile_text
from matcher.cli import main
from matcher.data.loader import load_dataset
from matcher.engine.evaluate import evaluate

SMOKERS = CRITERIA + "  smoker: smoking status at index is current\n"
WARNING = "the data provides no observations.value_code column: smoker is unknown for every patient"


def _data(tmp_path: Path, *, value_code: bool) -> Path:
    data = write_dataset(tmp_path / "data")
    schema = {"patient_id": pl.String, "date": pl.Date, "system": pl.String, "code": pl.String}
    schema |= {"value": pl.Float64, "unit": pl.String}
    if value_code:
        schema |= {"value_code": pl.String}
    pl.DataFrame(schema=schema).write_parquet(data / "observations.parquet")
    return data


def test_issue18_value_code_absent_is_warned_for_smoking_status(tmp_path):
    data = _data(tmp_path, value_code=False)
    result = evaluate(compile_text(SMOKERS), load_dataset(data))
    assert "observations.value_code" in result.not_provided
    assert any(WARNING in w for w in result.code_set_warnings())
    assert set(result.patients["smoker"].to_list()) == {None}  # unknown for everyone
    without_rule = evaluate(compile_text(CRITERIA), load_dataset(data))
    assert not any("value_code" in w for w in without_rule.code_set_warnings())


def test_issue18_value_code_present_but_empty_is_not_warned(tmp_path):
    data = _data(tmp_path, value_code=True)
    result = evaluate(compile_text(SMOKERS), load_dataset(data))
    assert "observations.value_code" not in result.not_provided
    assert not any("value_code" in w for w in result.code_set_warnings())


def test_issue18_count_cli_prints_the_value_code_warning(tmp_path):
    ledger = tmp_path / "ledger.sqlite"
    assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger)]).exit_code == 0
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(SMOKERS, encoding="utf-8")
    data = _data(tmp_path, value_code=False)
    args = ["count", str(criteria), "--data", str(data), "--ledger", str(ledger)]
    res = CliRunner().invoke(main, [*args, "--requester", "t"])
    assert res.exit_code == 0, res.output
    assert WARNING in res.output
