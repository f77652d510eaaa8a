"""Issue 11, items 7 and 8 and smaller items: criteria files on disk, ``p4dp fmt``, ``explain``.

Each test is named after the issue item it covers.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from criteria_dsl import CriteriaError, check_text, compile_text
from criteria_dsl.check import read_source
from criteria_dsl.explain import explain
from criteria_dsl.limits import MAX_FILE_BYTES
from matcher.cli import main

HEAD = 'study "S"\nindex date 2026-01-01\n'
MESSY = 'study   "S"\ninclusion\nadult:age at index>=18\n'
CANONICAL = 'study "S"\n\ninclusion\n  adult: age at index >= 18\n'


def unreadable(path: Path) -> str:
    with pytest.raises(CriteriaError) as info:
        read_source(path)
    (diag,) = info.value.diagnostics
    return f"{diag.code}: {diag.message}"


# ---- item 7: what is read ------------------------------------------------------------------


def test_issue11_item7_a_non_utf8_byte_is_reported_at_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.p4dp"
    path.write_bytes((HEAD + "inclusion\n  r: age à index\n").encode("latin-1"))
    with pytest.raises(CriteriaError) as info:
        read_source(path)
    (diag,) = info.value.diagnostics
    assert (diag.code, diag.line, diag.column) == ("E005 not-utf8", 4, 10)
    assert "0xE0" in diag.message
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1 and f"{path}:4:10: error: byte 0xE0" in result.output


def test_issue11_item7_a_bom_file_checks_and_formats(tmp_path: Path) -> None:
    path = tmp_path / "bom.p4dp"
    path.write_bytes(b"\xef\xbb\xbf" + CANONICAL.encode())
    assert read_source(path) == CANONICAL
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output


def test_issue11_item7_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.p4dp"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: nothing to read anyway
    assert "may not be larger than 1,000,000 bytes" in unreadable(path)


def test_issue11_item7_devices_and_directories_are_refused(tmp_path: Path) -> None:
    assert "not a regular file" in unreadable(Path("/dev/zero"))
    assert "is a directory" in unreadable(tmp_path)
    assert "file not found" in unreadable(tmp_path / "nope.p4dp")


def test_issue11_item7_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.p4dp"
    os.mkfifo(fifo)
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(unreadable(fifo)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "reading a FIFO blocked"
    assert "not a regular file" in outcome[0]


def test_issue11_item7_check_never_echoes_much_of_a_file_that_is_not_criteria(
    tmp_path: Path,
) -> None:
    path = tmp_path / "patients.csv"
    path.write_text("".join(f"p{i},secret{i},1960,F\n" for i in range(1000)), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.count("secret") == 1 and len(result.output) < 500


# ---- item 8: p4dp fmt ----------------------------------------------------------------------


def test_issue11_item8_fmt_keeps_the_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "s.p4dp"
    path.write_text(MESSY, encoding="utf-8")
    path.chmod(0o640)
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_text(encoding="utf-8") == CANONICAL
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["s.p4dp"]


def test_issue11_item8_fmt_keeps_hard_links(tmp_path: Path) -> None:
    path = tmp_path / "s.p4dp"
    path.write_text(MESSY, encoding="utf-8")
    other = tmp_path / "other-name.p4dp"
    os.link(path, other)
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_ino == other.stat().st_ino and path.stat().st_nlink == 2
    assert other.read_text(encoding="utf-8") == CANONICAL


def test_issue11_item8_fmt_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "studies" / "s.p4dp"
    target.parent.mkdir()
    target.write_text(MESSY, encoding="utf-8")
    link = tmp_path / "link.p4dp"
    link.symlink_to(Path("studies") / "s.p4dp")
    result = CliRunner().invoke(main, ["fmt", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(Path("studies") / "s.p4dp")
    assert target.read_text(encoding="utf-8") == CANONICAL
    assert sorted(p.name for p in target.parent.iterdir()) == ["s.p4dp"]


def test_issue11_item8_fmt_refuses_a_file_that_check_refuses(tmp_path: Path) -> None:
    path = tmp_path / "s.p4dp"
    messy = 'study   "S"\ninclusion\nd:has diagnosis nope\n'  # parses, but no code set 'nope'
    path.write_text(messy, encoding="utf-8")
    for args in (["fmt", str(path)], ["fmt", "--check", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert "unknown code set 'nope'" in result.output and "not formatted" in result.output
    assert path.read_text(encoding="utf-8") == messy


# ---- smaller items -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ['"01"', "007"])
def test_issue11_version_01_is_read_as_1_with_a_warning(version: str, service) -> None:
    text = f'study "S" version {version}\ninclusion\n  a: age at index > 18\n'
    result = check_text(text, service=service)
    assert result.ok
    assert result.study.version == int(version.strip('"'))
    assert [(d.code, d.line) for d in result.warnings] == [("W509 version-number", 1)]
    plain = check_text('study "S" version 1\ninclusion\n  a: age at index > 18\n', service=service)
    assert plain.warnings == []


def test_issue11_explain_says_unknown_only_where_a_rule_can_be_unknown(service) -> None:
    text = (
        HEAD
        + "codes t2d = icd10 E11\ncodes hba1c = loinc 4548-4\ninclusion\n"
        + "  diabetes: has diagnosis t2d\n"
        + "  adult: age at index >= 18\n"
        + "  alive: alive at index and has diagnosis t2d\n"
        + "  high: latest lab hba1c > 7 %\n"
        + "  twice: at least 2 diagnoses t2d\n"
        + "exclusion\n  woman: sex is female and not has diagnosis t2d\n"
    )
    text_out = explain(compile_text(text, service=service), service=service)
    unknown_of: dict[str, bool] = {}
    current = None
    for line in text_out.splitlines():
        header = re.match(r"^  \d+\. (\w+)", line)
        if header:
            current = header.group(1)
            unknown_of[current] = False
        elif current and line.startswith("     ") and "cannot decide" in line:
            unknown_of[current] = True
        elif not line.strip():
            current = None
    assert unknown_of == {
        "diabetes": False,
        "adult": True,
        "alive": False,
        "high": True,
        "twice": False,
        "woman": True,
    }
    assert "t2d: 1 code\n" in text_out and "1 codes" not in text_out


def test_issue11_progress_lines_show_no_source_location(capsys: pytest.CaptureFixture) -> None:
    from matcher.cli.count_cmd import _Steps

    steps = _Steps(True)
    assert steps.console is not None
    with steps.step("loading"):
        pass
    err = capsys.readouterr().err
    assert "loading: done" in err
    assert ".py:" not in err


def test_issue11_item6_noise_beyond_any_population_is_refused() -> None:
    from matcher.disclosure import DisclosureError, DisclosurePolicy

    for sigma in (1e308, float("inf"), float("nan"), -1.0):
        with pytest.raises(DisclosureError, match="--noise"):
            DisclosurePolicy(noise=True, noise_sigma=sigma)
    assert DisclosurePolicy(noise=True, noise_sigma=50.0).noise_sigma == 50.0


def test_issue11_item6_an_index_date_beyond_the_calendar_is_refused_by_the_engine() -> None:
    import datetime as dt

    from matcher.engine.evaluate import study_index
    from matcher.errors import MatcherError

    study = compile_text('study "S"\ninclusion\n  a: age at index > 18\n')
    for day in (dt.date(1, 1, 1), dt.date(9999, 12, 31)):
        with pytest.raises(MatcherError, match="--index-date"):
            study_index(study, day)
    assert study_index(study, dt.date(2024, 1, 1)) == dt.date(2024, 1, 1)
