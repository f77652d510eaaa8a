"""Issue 18 (language reach): ``p4dp count`` warns when ``observations.value_code`` is not
provided and a rule needs it (smoking status), as it warns for an optional table not provided:
the rule is unknown for every patient because the column is absent, not because no one smokes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from feasibility_helpers import CRITERIA, write_dataset

from criteria_dsl import compile_text
from matcher.cli import main
from matcher.data.loader import load_dataset
from matcher.engine.evaluate import evaluate
from matcher.errors import DataError
from matcher.snapshot.ingest import ingest
from matcher.snapshot.manifest import read_manifest
from matcher.snapshot.partition import ingest_partitioned
from matcher.snapshot.reader import open_snapshot

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


# ---- langdata item 2: a snapshot remembers the optional columns its source lacked ----------


def _count(tmp_path: Path, data: Path) -> str:
    ledger = tmp_path / "ledger.sqlite"
    if not ledger.exists():
        assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(ledger)]).exit_code == 0
    criteria = tmp_path / "study.p4dp"
    criteria.write_text(SMOKERS, encoding="utf-8")
    args = ["count", str(criteria), "--data", str(data), "--ledger", str(ledger)]
    res = CliRunner().invoke(main, [*args, "--requester", "t"])
    assert res.exit_code == 0, res.output
    return res.output


def test_issue18_snapshot_manifest_records_absent_value_code_and_warns(tmp_path):
    raw = _data(tmp_path, value_code=False)
    snap = tmp_path / "snap"
    manifest = ingest(raw, snap)
    assert manifest.absent_columns == ("observations.value_code",)
    body = json.loads((snap / "manifest.json").read_text(encoding="utf-8"))
    assert body["absent_columns"] == ["observations.value_code"]
    opened = open_snapshot(snap)
    assert opened.absent_columns == frozenset({"observations.value_code"})
    result = evaluate(compile_text(SMOKERS), opened)
    assert any(WARNING in w for w in result.code_set_warnings())
    assert set(result.patients["smoker"].to_list()) == {None}
    assert WARNING in _count(tmp_path, snap)  # the same warning as from the raw files


def test_issue18_snapshot_of_data_with_value_code_records_none_absent(tmp_path):
    raw = _data(tmp_path, value_code=True)
    manifest = ingest(raw, tmp_path / "snap")
    assert manifest.absent_columns == ()
    assert open_snapshot(tmp_path / "snap").absent_columns == frozenset()
    assert "value_code" not in _count(tmp_path, tmp_path / "snap")


def _snapshot_with_absent(tmp_path: Path, absent: object) -> Path:
    """A snapshot of the data without value_code whose manifest's ``absent_columns`` is
    replaced by ``absent`` (left out when ``...``); the list is not part of the hash."""
    snap = tmp_path / "snap"
    ingest(_data(tmp_path, value_code=False), snap)
    path = snap / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    del body["absent_columns"]
    if absent is not ...:
        body["absent_columns"] = absent
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    return snap


def test_issue18_old_snapshot_without_the_field_gives_no_warning_and_no_error(tmp_path):
    snap = _snapshot_with_absent(tmp_path, ...)  # as written before the field existed
    assert read_manifest(snap).absent_columns is None
    assert open_snapshot(snap).absent_columns == frozenset()
    output = _count(tmp_path, snap)
    assert "value_code" not in output


def test_issue18_snapshot_with_a_malformed_absent_list_is_refused_naming_the_manifest(tmp_path):
    snap = _snapshot_with_absent(tmp_path, ["observations.nope"])
    with pytest.raises(DataError, match=r"manifest\.json: absent_columns: 'observations\.nope'"):
        read_manifest(snap)
    snap = _snapshot_with_absent(tmp_path / "other", "observations.value_code")  # not a list
    with pytest.raises(DataError, match="absent_columns must be a list"):
        read_manifest(snap)


def test_issue18_partitioned_snapshot_remembers_absent_value_code(tmp_path):
    raw = _data(tmp_path, value_code=False)
    snap = tmp_path / "psnap"
    ingest_partitioned(raw, snap, partitions=2)
    parts = sorted(p for p in snap.iterdir() if (p / "manifest.json").is_file())
    assert len(parts) == 2
    assert all(read_manifest(p).absent_columns == ("observations.value_code",) for p in parts)
    assert WARNING in _count(tmp_path, snap)
