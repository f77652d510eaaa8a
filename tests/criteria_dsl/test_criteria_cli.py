"""``p4dp check``, ``p4dp fmt`` and ``p4dp explain`` through click's test runner."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from matcher.cli import main

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "t2d_glp1.p4dp"


def test_check_valid_file_exits_0() -> None:
    result = CliRunner().invoke(main, ["check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    # the example uses ATC wildcards against the shipped partial table: ok, with W510 warnings
    assert result.output.strip().splitlines()[-1].startswith(f"{EXAMPLE}: ok")


def test_check_invalid_file_prints_caret_and_exits_1() -> None:
    path = FIXTURES / "invalid" / "bad_unit.p4dp"
    result = CliRunner().invoke(main, ["check", str(path), str(EXAMPLE)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"{path}:4:59: error: unit 'mg' cannot be compared")
    assert lines[2].strip().startswith("|") and "^^^^" in lines[2]
    assert "Traceback" not in result.output


def test_check_json_lists_every_diagnostic() -> None:
    path = FIXTURES / "invalid" / "several_syntax_errors.p4dp"
    result = CliRunner().invoke(main, ["check", "--format", "json", str(path)])
    assert result.exit_code == 1
    records = json.loads(result.output)
    assert [r["line"] for r in records] == [4, 5, 6]
    assert set(records[0]) == {
        "file",
        "line",
        "column",
        "end",
        "severity",
        "code",
        "message",
        "suggestion",
    }


def test_check_param_override_and_unknown_param(tmp_path: Path) -> None:
    ok = CliRunner().invoke(main, ["check", str(EXAMPLE), "--param", "min_age=60"])
    assert ok.exit_code == 0, ok.output
    bad = CliRunner().invoke(main, ["check", str(EXAMPLE), "--param", "min_agee=60"])
    assert bad.exit_code == 1
    assert "unknown parameter 'min_agee'" in bad.output and "did you mean 'min_age'" in bad.output


def test_check_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(tmp_path / "nope.p4dp")])
    assert result.exit_code == 1
    assert "file not found" in result.output


def test_fmt_rewrites_in_place_and_check_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.p4dp"
    path.write_text('study   "S"\ninclusion\nadult:age at index>=18\n', encoding="utf-8")
    check = CliRunner().invoke(main, ["fmt", "--check", "--diff", str(path)])
    assert check.exit_code == 1 and "+  adult: age at index >= 18" in check.output
    assert path.read_text(encoding="utf-8").startswith('study   "S"')  # --check changes nothing
    done = CliRunner().invoke(main, ["fmt", str(path)])
    assert done.exit_code == 0
    assert (
        path.read_text(encoding="utf-8") == 'study "S"\n\ninclusion\n  adult: age at index >= 18\n'
    )
    again = CliRunner().invoke(main, ["fmt", "--check", str(path)])
    assert again.exit_code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["s.p4dp"]  # no temporary file left


def test_fmt_leaves_a_file_with_syntax_errors_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bad.p4dp"
    shutil.copy(FIXTURES / "invalid" / "expected_duration.p4dp", path)
    before = path.read_text(encoding="utf-8")
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == 1 and "expected a duration" in result.output
    assert path.read_text(encoding="utf-8") == before


def test_explain_expands_code_sets_with_labels() -> None:
    result = CliRunner().invoke(main, ["explain", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "Type 2 diabetes mellitus" in result.output
    assert "ICD-10 2019 E11.9" in result.output
    assert "ATC p4dp-defaults A10BA02" in result.output
    assert "Inclusion criteria" in result.output


def test_help_has_examples() -> None:
    for command in ("check", "fmt", "explain"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "Examples:" in result.output
