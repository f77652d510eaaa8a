"""Issue 16 (start-up): the parser's tables come from Lark's cache, only where it is safe.

A parser loaded from the cache parses every example and fixture to the same AST as one built
from the grammar; the cache is a pickle, so a folder or file that someone else could have
written is never loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from criteria_dsl import parser as parser_module
from criteria_dsl.parser import parse_collect
from criteria_dsl.parser_cache import cache_file

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(ROOT.glob("examples/*.p4dp")) + sorted(ROOT.glob("tests/fixtures/**/*.p4dp"))


def _parse_all() -> list:
    return [parse_collect(f.read_text(encoding="utf-8"), filename=f.name) for f in FILES]


def test_issue16_cached_parser_gives_the_same_asts(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("P4DP_CACHE_DIR", str(tmp_path))
    parser_module._parser.cache_clear()
    try:
        built = _parse_all()  # builds the tables and writes the cache
        (written,) = (tmp_path / "parser").iterdir()
        assert oct(written.stat().st_mode & 0o777) == "0o600"
        parser_module._parser.cache_clear()
        stamp = written.stat().st_mtime_ns
        loaded = _parse_all()  # loads the tables from the cache
        assert written.stat().st_mtime_ns == stamp  # read, not rebuilt
    finally:
        parser_module._parser.cache_clear()
    assert len(FILES) > 9 and loaded == built


def test_issue16_a_folder_others_may_write_is_not_used(tmp_path) -> None:
    assert cache_file("start: WORD", tmp_path)
    os.chmod(tmp_path / "parser", 0o777)
    assert cache_file("start: WORD", tmp_path) is False


def test_issue16_a_file_others_may_write_is_not_loaded(tmp_path) -> None:
    path = Path(cache_file("start: WORD", tmp_path))
    path.write_bytes(b"planted")
    os.chmod(path, 0o666)
    assert cache_file("start: WORD", tmp_path) is False


def test_issue16_an_unusable_cache_folder_costs_only_speed(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert cache_file("start: WORD", blocker) is False
    monkeypatch.setenv("P4DP_CACHE_DIR", str(blocker))
    parser_module._parser.cache_clear()
    try:
        ast, errors, _ = parse_collect('study "S"\ninclusion\n  adult: age at index >= 18\n')
    finally:
        parser_module._parser.cache_clear()
    assert errors == [] and ast is not None


@pytest.mark.parametrize("garbage", [b"", b"not a lark cache\n", b"0" * 64 + b"\n\x80\x04junk"])
def test_issue16_a_corrupt_cache_file_is_rebuilt(tmp_path, monkeypatch, garbage) -> None:
    monkeypatch.setenv("P4DP_CACHE_DIR", str(tmp_path))
    grammar = parser_module._GRAMMAR.read_text(encoding="utf-8")
    path = Path(cache_file(grammar))
    path.write_bytes(garbage)
    os.chmod(path, 0o600)
    parser_module._parser.cache_clear()
    try:
        ast, errors, _ = parse_collect('study "S"\ninclusion\n  adult: age at index >= 18\n')
    finally:
        parser_module._parser.cache_clear()
    assert errors == [] and ast is not None and path.stat().st_size > 1000
