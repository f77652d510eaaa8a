"""Every example study and every ``p4dp`` block of the manual compiles with the real
terminology service (and the examples are in canonical form)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from criteria_dsl import check_text, explain, format_text
from terminology.service import default_service

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.p4dp"))
MANUAL = ROOT / "docs" / "criteria-language.md"
_BLOCK = re.compile(r"```p4dp\n(.*?)```", re.S)


def test_at_least_eight_examples_each_citing_a_registry_id() -> None:
    assert len(EXAMPLES) >= 8
    for path in EXAMPLES:
        assert re.search(r"\b(NCT\d{8}|ISRCTN\d{8})\b", path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_is_valid_canonical_and_explained(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    result = check_text(source, filename=path.name, service=default_service())
    assert result.ok, result.render()
    assert not result.errors
    assert format_text(source) == source
    assert result.study is not None
    text = explain(result.study)
    assert all(rule.name in text for rule in result.study.rules)


def manual_blocks() -> list[str]:
    return _BLOCK.findall(MANUAL.read_text(encoding="utf-8"))


def test_manual_has_examples() -> None:
    assert len(manual_blocks()) >= 8


@pytest.mark.parametrize("index", range(len(manual_blocks()) if MANUAL.exists() else 0))
def test_manual_example_compiles(index: int, service) -> None:
    block = manual_blocks()[index]
    if not block.lstrip().startswith(("study", "#")):
        block = 'study "DOC"\ncodes t2d = icd10 E11 and descendants, icpc2 T90\n' + block
    result = check_text(block, filename=f"manual-{index}.p4dp", service=service)
    assert result.ok, result.render()
