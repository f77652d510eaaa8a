"""The unit table and the ``p4dp import omop`` command."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from matcher.cli import main
from matcher.omop.units import UNITS, convert_units


@pytest.mark.parametrize(
    ("unit", "value", "ucum", "expected"),
    [
        ("mmHg", 120.0, "mm[Hg]", 120.0),
        ("MG/DL", 1.0, "mg/dL", 1.0),
        ("µmol/L", 80.0, "umol/L", 80.0),
        ("[in_i]", 10.0, "cm", 25.4),
        ("°F", 212.0, "Cel", 100.0),
        ("m", 1.75, "cm", 175.0),
        ("n/a", 3.0, None, 3.0),
        ("{furlong}", 2.0, "{furlong}", 2.0),
    ],
)
def test_convert_units(unit, value, ucum, expected):
    out = convert_units(pl.LazyFrame({"unit": [unit], "value": [value]})).collect()
    assert out["unit"][0] == ucum
    assert out["value"][0] == pytest.approx(expected)


def test_unit_table_targets_are_their_own_fixed_points():
    for rule in UNITS.values():
        if rule.ucum is not None:
            assert UNITS[rule.ucum.lower()].ucum == rule.ucum
            assert UNITS[rule.ucum.lower()].scale == 1.0


def test_cli_imports_and_prints_report(small_omop: Path, tmp_path: Path):
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        main, ["import", "omop", str(small_omop), "--out", str(out), "--centre", "lyon"]
    )
    assert result.exit_code == 0, result.output
    assert "condition_occurrence" in result.output
    assert "unmapped person_not_found: 1" in result.output
    assert pl.read_parquet(out / "patients.parquet")["centre_id"].unique().to_list() == ["lyon"]
    again = runner.invoke(main, ["import", "omop", str(small_omop), "--out", str(out), "--json"])
    assert again.exit_code == 1
    assert again.output.strip().startswith("Error: ")
    assert "pass --overwrite" in again.output
    ok = runner.invoke(
        main, ["import", "omop", str(small_omop), "--out", str(out), "--overwrite", "--json"]
    )
    assert ok.exit_code == 0
    assert json.loads(ok.output)["tables"]["person"]["converted"] == 3


def test_cli_errors_are_one_line(small_omop: Path, tmp_path: Path):
    (small_omop / "PERSON.csv").unlink()
    result = CliRunner().invoke(
        main, ["import", "omop", str(small_omop), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "no person table" in lines[0]
    bad = CliRunner().invoke(
        main,
        ["import", "omop", str(small_omop), "--out", str(tmp_path / "o"), "--extraction-date", "x"],
    )
    assert bad.exit_code == 1
    assert "--extraction-date: 'x' is not a date" in bad.output


def test_help_has_examples():
    result = CliRunner().invoke(main, ["import", "omop", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output
    top = CliRunner().invoke(main, ["--help"])
    assert "import" in top.output
