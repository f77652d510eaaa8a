"""Issue 14 (validation of a 200-line file < 100 ms): the AST built during the parse
(:mod:`criteria_dsl.fastparse`) gives the same report as the plain path (a parse tree, then
the AST): every node and span, every error and warning with its line, column, message and
suggestion, the criteria hash. Checked on the examples, the trial sample, the fixtures, and on
generated files with and without errors."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import criteria_dsl.check as check_module
from criteria_dsl.check import check_text
from criteria_dsl.fastparse import NeedsTree, fast_parse
from criteria_dsl.ir_json import study_hash
from criteria_dsl.limits import MAX_NESTING
from criteria_dsl.parser import _parser, parse_collect
from tests.criteria_dsl.test_criteria_format_fuzz import study_files

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    [
        *(REPO / "examples").glob("*.p4dp"),
        *(REPO / "tests" / "fixtures" / "trials").glob("*.p4dp"),
        *(REPO / "tests" / "fixtures" / "criteria").rglob("*.p4dp"),
    ]
)


def with_spans(node: Any) -> Any:
    """``node`` as nested tuples with every span (the AST's equality leaves spans out)."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (
            type(node).__name__,
            *((f.name, with_spans(getattr(node, f.name))) for f in dataclasses.fields(node)),
        )
    if isinstance(node, tuple | list):
        return tuple(with_spans(v) for v in node)
    return node


def parsed(text: str, *, fast: bool) -> tuple[Any, ...]:
    ast, diagnostics, blanked = parse_collect(text, filename="f.p4dp", fast=fast)
    return with_spans(ast), [d.to_json() for d in diagnostics], sorted(blanked)


def report(text: str, service: Any, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What ``POST /validate`` answers for ``text``, by the fast or the plain parse."""
    with monkeypatch.context() as patch:
        patch.setattr(check_module, "parse_collect", functools.partial(parse_collect, fast=fast))
        result = check_text(text, filename="f.p4dp", service=service)
    return (
        result.ok,
        result.to_json(),
        study_hash(result.study) if result.ok and result.study else None,
        with_spans(result.ast),
    )


def assert_same(text: str, service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parsed(text, fast=True) == parsed(text, fast=False)
    assert report(text, service, fast=True, monkeypatch=monkeypatch) == report(
        text, service, fast=False, monkeypatch=monkeypatch
    )


def test_issue14_the_files_cover_examples_trials_and_fixtures() -> None:
    assert len(FILES) > 40
    assert any(p.parent.name == "invalid" for p in FILES)


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_issue14_fast_parse_gives_the_plain_report(
    path: Path, service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert_same(path.read_text(encoding="utf-8"), service, monkeypatch)


def test_issue14_fast_parse_builds_the_ast_without_a_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    text = 'study "S"\ninclusion\n  adult: age at index >= 18 and (sex is female)\n'
    plain = parsed(text, fast=False)

    def no_tree(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the parse tree was built")

    monkeypatch.setattr(_parser(), "parse", no_tree)
    assert parsed(text, fast=True) == plain
    rule = fast_parse(_parser(), text).statements[1].rules[0]
    assert (rule.span.line, rule.span.column, rule.span.end_column) == (
        3,
        3,
        49,
    )  # the line end included
    assert (
        rule.condition.items[1].span.column == 34
    )  # inside the parentheses, which are not its span


@pytest.mark.parametrize(
    "condition",
    [
        "has diagnosis t2d within 6 months after 2026-02-30",  # a date that does not exist
        'has diagnosis ""',  # an empty term
        "latest diagnosis t2d",  # 'latest' needs a comparison
    ],
)
def test_issue14_source_errors_go_to_the_plain_path(
    condition: str, service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = f'study "S"\ncodes t2d = icd10 E11\ninclusion\n  r: {condition}\n  q: age at index >\n'
    assert_same(text, service, monkeypatch)


def test_issue14_deep_nesting_goes_to_the_plain_path(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = "not " * (MAX_NESTING + 5) + "has diagnosis t2d"
    text = f'study "S"\ncodes t2d = icd10 E11\ninclusion\n  a: age at index > 18\n  r: {deep}\n'
    with pytest.raises(NeedsTree):
        fast_parse(_parser(), text)
    assert_same(text, service, monkeypatch)
    assert "E006 too-deep" in {
        d["code"] for d in report(text, service, fast=True, monkeypatch=monkeypatch)[1]
    }


BREAKS = [
    "(",
    ")",
    ",",
    " and ",
    " or ",
    ":",
    "@",
    "\u202e",
    "2026-13-01",
    '""',
    "ééé",
    "\n",
    "\n  x: ",
    "within",
    "$p",
    "é\u0301",
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(source=study_files(), data=st.data())
def test_issue14_generated_files_with_errors_give_the_plain_report(
    source: str, data: st.DataObject, service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = source
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(BREAKS)) + text[at:]
    assert_same(text, service, monkeypatch)
