"""``p4dp terms load`` and ``p4dp terms info`` through the real command group."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from matcher.cli import main
from terminology.service import reset_default_service

ATC_CSV = (
    "atc_code,atc_name,ddd,uom,adm_r,note\nA,ALIMENTARY,NA,NA,NA,NA\nA10,DIABETES,NA,NA,NA,NA\n"
)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "terms"
    monkeypatch.setenv("P4DP_TERMINOLOGY_HOME", str(home))
    reset_default_service()
    yield home
    reset_default_service()


def test_load_then_info(tmp_path: Path, home: Path) -> None:
    table = tmp_path / "atc_2026.csv"
    table.write_text(ATC_CSV, encoding="utf-8")
    runner = CliRunner()
    loaded = runner.invoke(main, ["terms", "load", "atc", str(table)])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded atc 2026: 2 codes" in loaded.output
    info = runner.invoke(main, ["terms", "info", "--format", "json"])
    assert info.exit_code == 0, info.output
    data = json.loads(info.output)
    assert data["store"] == str(home)
    rows = {(r["system"], r["version"]): r for r in data["tables"]}
    assert rows[("atc", "2026")]["default"] is True and rows[("atc", "2026")]["codes"] == 2
    assert rows[("atc", "p4dp-defaults")]["default"] is False
    assert rows[("icd10", "2019")]["codes"] == 12246
    assert "CC0" in rows[("icd10", "2019")]["licence"]
    text = runner.invoke(main, ["terms", "info"])
    assert text.exit_code == 0 and "* atc      2026" in text.output


def test_load_errors_are_one_line(tmp_path: Path, home: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["terms", "load", "atc", str(tmp_path / "none_2026.csv")])
    assert missing.exit_code == 1
    assert missing.output.strip().startswith("Error: ") and "no such file" in missing.output
    assert "Traceback" not in missing.output
    bad = tmp_path / "atc_2026.csv"
    bad.write_text(ATC_CSV + "A1,broken,NA,NA,NA,NA\n", encoding="utf-8")
    result = runner.invoke(main, ["terms", "load", "atc", str(bad)])
    assert result.exit_code == 1 and "line 4: column 'atc_code'" in result.output
    assert not (home / "atc").exists()  # nothing half-installed
    lang = runner.invoke(main, ["terms", "load", "atc", str(bad), "--lang", "fr"])
    assert lang.exit_code != 0 and "icpc2 tables only" in lang.output


def test_help_has_examples() -> None:
    runner = CliRunner()
    for args in (["terms"], ["terms", "load"], ["terms", "info"]):
        result = runner.invoke(main, [*args, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output
