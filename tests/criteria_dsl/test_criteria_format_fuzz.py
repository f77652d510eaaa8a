"""Formatter properties and robustness: canonical, idempotent, meaning-preserving; no input
makes the front end raise anything but :class:`CriteriaError`."""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_dsl import CriteriaError, check_text, format_text, parse

VALID = sorted(
    (Path(__file__).resolve().parent.parent / "fixtures" / "criteria" / "valid").glob("*.p4dp")
)
SOURCES = [p.read_text(encoding="utf-8") for p in VALID]

CONDITIONS = [
    "age at index >= 18",
    "age at index between 40 and 75",
    "sex is female",
    "has diagnosis t2d",
    "has no prescription metformin ever",
    "at least 2 prescriptions of metformin within 6 months before index",
    "exactly 1 encounter of kind home within 1 year before index",
    "latest lab loinc 4548-4 within 12 months before index > 7.5 %",
    "number of labs loinc 4548-4 on distinct days >= 2",
    "has prescription atc A10A* within 90 days after first diagnosis t2d",
    "registered for at least 12 months before index",
    "alive at index",
    "old",
]

condition = st.recursive(
    st.sampled_from(CONDITIONS),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"{t[0]} and {t[1]}"),
        st.tuples(inner, inner).map(lambda t: f"{t[0]} or {t[1]}"),
        inner.map(lambda c: f"not ({c})"),
        inner.map(lambda c: f"({c})"),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: f"at least 1 of ({', '.join(cs)})"),
    ),
    max_leaves=6,
)
spaces = st.sampled_from([" ", "  ", "\t"])


@st.composite
def study_files(draw: st.DrawFn) -> str:
    rules = draw(st.lists(condition, min_size=1, max_size=4))
    gap = draw(spaces)
    lines = [
        "# generated",
        f'study{gap}"G" version 1',
        "codes t2d = icd10 E11 and descendants, icpc2 T90  # diabetes",
        f"codes metformin{gap}= atc A10BA02",
        "define old = age at index > 70",
        "inclusion",
    ]
    lines += [f"{draw(spaces)}r{i}{gap}:{gap}{text}" for i, text in enumerate(rules)]
    if draw(st.booleans()):
        lines += ["exclusion", f"  x: {draw(condition)}  # why"]
    return "\n".join(lines) + draw(st.sampled_from(["", "\n", "\n\n"]))


@given(study_files())
def test_format_is_idempotent_and_preserves_meaning(text: str) -> None:
    formatted = format_text(text)
    assert format_text(formatted) == formatted
    assert parse(formatted) == parse(text)
    assert formatted.count("#") == text.count("#")  # comments kept


@given(st.sampled_from(SOURCES), st.data())
def test_format_of_mutated_layout_preserves_meaning(source: str, data: st.DataObject) -> None:
    lines = source.splitlines()
    mutated = "\n".join(
        line
        if line.lstrip().startswith("#")
        else data.draw(st.sampled_from(["", " ", "   "])) + line.replace(" ", data.draw(spaces), 1)
        for line in lines
    )
    assert parse(format_text(mutated)) == parse(source)
    assert format_text(mutated) == source


def _only_criteria_errors(text: str, service) -> None:
    try:
        result = check_text(text, filename="fuzz.p4dp", service=service)
    except CriteriaError:  # pragma: no cover - check_text reports, it does not raise
        return
    for d in result.diagnostics:
        d.render(text)
    with contextlib.suppress(CriteriaError):
        format_text(text)


DEADLINE = settings(deadline=dt.timedelta(seconds=10))
"""A time limit per example: a stall (exponential work) fails the test."""


@DEADLINE
@given(data=st.binary(max_size=300), bom=st.booleans())
def test_random_bytes_never_crash(data: bytes, bom: bool, service) -> None:
    _only_criteria_errors(
        ("\ufeff" if bom else "") + data.decode("utf-8", errors="replace"), service
    )
    _only_criteria_errors(data.decode("latin-1"), service)


@DEADLINE
@given(source=st.sampled_from(SOURCES), data=st.data())
def test_mutated_valid_files_never_crash(source: str, data: st.DataObject, service) -> None:
    text = source
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(text)))
        action = data.draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if action == "delete":
            end = pos + data.draw(st.integers(1, 12))
            text = text[:pos] + text[end:]
        elif action == "insert":
            piece = data.draw(
                st.sampled_from(
                    [
                        "(",
                        ")",
                        ",",
                        " and ",
                        " or ",
                        "not ",
                        "$x",
                        "\n",
                        '"',
                        "#",
                        "9",
                        "E11",
                        "%",
                        " within ",
                        " months ",
                        "at least ",
                        "[",
                        "]",
                        ":",
                        "=",
                        "é",
                        "\x00",
                        "\ufeff",
                        "\u202e",
                        "\u03bc",
                        "9" * 40,
                        "not " * 150,
                        "define d = d and d\n",
                    ]
                )
            )
            text = text[:pos] + piece + text[pos:]
        else:
            text = text[:pos] + text[pos : pos + 20] + text[pos:]
    _only_criteria_errors(text, service)
