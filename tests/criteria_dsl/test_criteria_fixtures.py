"""Snapshot tests: every invalid fixture's rendered diagnostics, every valid fixture's round trip.

Regenerate the ``.expected`` files after an intended wording change with
``P4DP_UPDATE_SNAPSHOTS=1 pytest tests/criteria_dsl/test_criteria_fixtures.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from criteria_dsl import check_text, compile_text, format_text, parse
from criteria_dsl.ir_json import from_json, study_hash, to_json

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "criteria"
INVALID = sorted((FIXTURES / "invalid").glob("*.p4dp"))
VALID = sorted((FIXTURES / "valid").glob("*.p4dp"))


def test_there_is_a_fixture_per_error_kind() -> None:
    assert len(INVALID) >= 25
    assert len(VALID) >= 4


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_diagnostics_match_snapshot(path: Path, service) -> None:
    source = path.read_text(encoding="utf-8")
    result = check_text(source, filename=path.name, service=service)
    assert not result.ok
    rendered = result.render() + "\n"
    expected_path = path.with_suffix(".expected")
    if os.environ.get("P4DP_UPDATE_SNAPSHOTS") == "1":
        expected_path.write_text(rendered, encoding="utf-8")
    assert rendered == expected_path.read_text(encoding="utf-8")
    for d in result.errors:
        assert "\x1b" not in d.render(source)  # no colour codes inside the text
        assert d.code[0] == "E" and d.code[1:4].isdigit()


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_is_canonical_and_compiles(path: Path, service) -> None:
    source = path.read_text(encoding="utf-8")
    assert format_text(source) == source
    result = check_text(source, filename=path.name, service=service)
    assert result.ok, result.render()
    study = result.study
    assert study is not None
    assert from_json(to_json(study)) == study
    assert study_hash(from_json(to_json(study))) == study_hash(study)
    # the same file with a different layout means the same study
    squeezed = "\n\n".join(line.strip() for line in source.splitlines() if line.strip()) + "\n"
    assert parse(squeezed) == parse(source)
    assert compile_text(squeezed, service=service) == study
