"""Issue 11 item 4: the default index date is the end of the data, never silently today.

The end of the data is the extraction date recorded in ``extract.json`` (written by ``p4dp
synth`` and ``p4dp import omop``) or a snapshot's manifest, else the latest event date. Studies
without a fixed index date use it; an index date after it is warned about; every output shows
the index date used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from conftest import valid_frames, write_dataset

from criteria_dsl import compile_text
from matcher.cli import main
from matcher.data.extract_date import (
    EXTRACT_FILE,
    LATEST_EVENT,
    data_end,
    read_extract,
    write_extract,
)
from matcher.engine.evaluate import evaluate
from matcher.errors import DataError
from matcher.reference import reference_evaluate
from matcher.snapshot import ingest, open_snapshot

D = dt.date
END = D(2020, 6, 30)
# no index date line: "the day of the run" in the language, the end of the data in the engine
STUDY = """study "NO-INDEX" version 1
codes t2d = icd10 E11 and descendants
inclusion
  diabetes: has diagnosis t2d within 12 months before index
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    directory = write_dataset(tmp_path / "data", valid_frames())
    write_extract(directory, END, source="test")
    return directory


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "study.p4dp"
    path.write_text(STUDY, encoding="utf-8")
    return path


def test_default_index_date_is_the_recorded_extraction_date(data: Path):
    study = compile_text(STUDY)
    assert study.index_date is None
    result = evaluate(study, data)
    assert result.index_date == END
    assert [r["patient_id"] for r in reference_evaluate(study, data)] == sorted(
        result.patients["patient_id"].to_list()
    )


def test_default_index_date_falls_back_to_the_latest_event(data: Path):
    (data / EXTRACT_FILE).unlink()
    end = data_end(data)
    assert end is not None and end.origin == LATEST_EVENT
    assert end.date == D(2020, 1, 1)  # the latest date of the valid fixture's events
    assert evaluate(compile_text(STUDY), data).index_date == D(2020, 1, 1)


def test_default_index_date_of_frames_is_their_latest_event():
    frames = valid_frames()
    assert evaluate(compile_text(STUDY), frames).index_date == D(2020, 1, 1)


def test_default_index_date_keeps_fixed_dates_and_the_option(data: Path):
    fixed = compile_text(STUDY.replace("version 1\n", "version 1\nindex date 2019-01-01\n"))
    assert evaluate(fixed, data).index_date == D(2019, 1, 1)
    assert evaluate(compile_text(STUDY), data, index_date=D(2018, 5, 5)).index_date == D(2018, 5, 5)


def test_default_index_date_recorded_in_the_snapshot(data: Path, tmp_path: Path):
    manifest = ingest(data, tmp_path / "snap")
    assert manifest.extraction_date == END.isoformat()
    body = json.loads((tmp_path / "snap" / "manifest.json").read_text())
    assert body["extraction_date"] == "2020-06-30"
    assert body["extraction_date_origin"] == EXTRACT_FILE
    snapshot = open_snapshot(tmp_path / "snap")
    assert evaluate(compile_text(STUDY), snapshot).index_date == END


def test_default_index_date_snapshot_without_extract_records_latest_event(data, tmp_path):
    (data / EXTRACT_FILE).unlink()
    manifest = ingest(data, tmp_path / "snap")
    assert (manifest.extraction_date, manifest.extraction_date_origin) == (
        "2020-01-01",
        LATEST_EVENT,
    )


def test_default_index_date_synth_records_its_window_end(tmp_path: Path):
    from matcher.synth import generate

    generate(40, seed=1, out=tmp_path / "pop")
    assert read_extract(tmp_path / "pop") == D(2026, 6, 30)


def test_default_index_date_unreadable_extract_file_is_an_error(data: Path):
    (data / EXTRACT_FILE).write_text('{"extraction_date": "30/06/2020"}', encoding="utf-8")
    with pytest.raises(DataError, match=r"extract\.json: unreadable"):
        evaluate(compile_text(STUDY), data)
    result = CliRunner().invoke(main, ["data", "check", str(data)])
    assert result.exit_code == 1
    assert "extract.json: unreadable" in result.output


@pytest.fixture
def ledger(tmp_path, monkeypatch) -> Path:
    """A fresh query ledger (the operator running the tests is its steward)."""
    location = tmp_path / "ledger.sqlite"
    assert CliRunner().invoke(main, ["ledger", "init", "--ledger", str(location)]).exit_code == 0
    monkeypatch.setenv("P4DP_LEDGER", str(location))
    return location


def _evaluate_cli(study_file: Path, data: Path, out: Path, *extra: str):
    args = ["evaluate", str(study_file), "--data", str(data), "--out", str(out), *extra]
    return CliRunner().invoke(main, args)


def test_default_index_date_shown_and_noted_by_evaluate(study_file, data, tmp_path, ledger):
    res = _evaluate_cli(study_file, data, tmp_path / "r.parquet")
    assert res.exit_code == 0, res.output
    assert "index date 2020-06-30" in res.stdout
    assert "Note: index date 2020-06-30: the end of the data (extract.json)" in res.stderr
    meta = pl.read_parquet_metadata(tmp_path / "r.parquet")
    assert meta["index_date"] == "2020-06-30"


def test_index_date_after_the_end_of_the_data_is_warned(study_file, data, tmp_path, ledger):
    res = _evaluate_cli(study_file, data, tmp_path / "r.parquet", "--index-date", "2021-01-01")
    assert res.exit_code == 0, res.output
    assert "Warning: index date 2021-01-01 is after the end of the data (2020-06-30" in res.stderr
    res = _evaluate_cli(study_file, data, tmp_path / "s.parquet", "--index-date", "2020-06-30")
    assert "after the end of the data" not in res.stderr


def test_default_index_date_in_every_count_output(study_file, data, ledger):
    base = ["count", str(study_file), "--data", str(data), "--ledger", str(ledger)]
    base += ["--requester", "steward-test", "--role", "steward"]
    runner = CliRunner()
    table = runner.invoke(main, base)
    assert table.exit_code == 0, table.output
    assert "index date 2020-06-30" in table.stdout
    assert "the end of the data (extract.json)" in table.stderr
    doc = json.loads(runner.invoke(main, [*base, "--format", "json"]).stdout)
    assert doc["index_date"] == "2020-06-30"
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, [*base, "--format", "csv"]).stdout)))
    assert rows[0]["table"] == "study" and rows[0]["name"] == "index_date"
    assert rows[0]["value"] == "2020-06-30"
    late = runner.invoke(main, [*base, "--index-date", "2026-01-01", "--format", "json"])
    assert json.loads(late.stdout)["index_date"] == "2026-01-01"
    assert "Warning: index date 2026-01-01 is after the end of the data" in late.stderr
