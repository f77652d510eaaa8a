"""``p4dp data check``: exit codes, output formats and help."""

from __future__ import annotations

import json

import polars as pl
from click.testing import CliRunner

from matcher.cli import main


def test_valid_directory_prints_summary_and_exits_0(write, frames):
    path = write(frames, "csv")
    result = CliRunner().invoke(main, ["data", "check", str(path)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "4 patients (1 opted out), 2 centres, 4 practices" in out
    assert "icd10 (2), icpc2 (1), snomed (1)" in out
    assert "2012-12-31 .. 2018-03-03" in out
    # the one snomed row: a system terminology cannot resolve (only exact codes reach it)
    assert out.strip().endswith(f"{path}: valid (1 warning)")
    assert result.stderr.startswith(
        "Warning: diagnoses.csv: column 'code': 1 row (25.0 % of diagnoses) in code system "
        "'snomed', which terminology cannot resolve"
    )


def test_json_format_is_machine_readable(write, frames):
    frames["diagnoses"] = frames["diagnoses"].with_columns(pl.Series("code", ["E11.9"] * 3 + ["E"]))
    frames["diagnoses"] = frames["diagnoses"].with_columns(pl.lit("icd10").alias("system"))
    path = write(frames)
    result = CliRunner().invoke(main, ["data", "check", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["valid"] is True and payload["errors"] == []
    assert len(payload["warnings"]) == 1 and "'E'" in payload["warnings"][0]
    summary = payload["summary"]
    assert summary["patients"] == 4 and summary["opted_out"] == 1
    assert summary["tables"]["diagnoses"] == {
        "rows": 4,
        "first_date": "2012-12-31",
        "last_date": "2018-03-03",
        "systems": {"icd10": 4},
    }


def test_invalid_directory_lists_every_error_and_exits_1(write, frames):
    frames["patients"] = frames["patients"].with_columns(pl.Series("sex", ["F", "X", "U", "F"]))
    path = write(frames)
    (path / "encounters.parquet").unlink()
    result = CliRunner().invoke(main, ["data", "check", str(path)])
    assert result.exit_code == 1
    lines = [x for x in result.stderr.strip().splitlines() if not x.startswith("Warning: ")]
    assert lines[0] == f"Error: {path}: 2 problems found, data refused:"
    assert lines[1].startswith("  - encounters: missing file")
    assert (
        lines[2] == "  - patients.parquet: column 'sex': 1 row with a sex outside F, M, U (row 2)"
    )
    assert "Traceback" not in result.output
    assert "patients (" not in result.stdout  # no summary for refused data


def test_json_format_on_invalid_data_still_exits_1(write, frames):
    frames["diagnoses"] = frames["diagnoses"].drop("date")
    path = write(frames)
    result = CliRunner().invoke(main, ["data", "check", str(path), "--format", "json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["valid"] is False and payload["summary"] is None
    assert payload["errors"] == ["diagnoses.parquet: column 'date': missing column"]
    assert result.stderr.startswith("Error: ")


def test_not_a_directory(tmp_path):
    result = CliRunner().invoke(main, ["data", "check", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "not a directory" in result.stderr


def test_help_has_an_example():
    result = CliRunner().invoke(main, ["data", "check", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "p4dp data check data/" in result.output
    listing = CliRunner().invoke(main, ["data", "--help"])
    assert "check" in listing.output
