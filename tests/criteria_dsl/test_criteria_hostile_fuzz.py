"""Issue 11 (Tests): hostile criteria files, generated. BOMs and mixed encodings, huge
numbers, deep ``not`` chains and chained definitions must each end in an answer (a study or
positioned errors), never an internal error, and quickly: every example has a deadline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from criteria_dsl import CriteriaError, check_text, format_text
from criteria_dsl.check import read_source
from criteria_dsl.ir_json import from_json, study_hash, to_json
from criteria_dsl.limits import MAX_CONDITION_DEPTH, MAX_CONDITIONS, MAX_NESTING

DEADLINE = settings(deadline=dt.timedelta(seconds=10))
"""Far above what any of these inputs needs (about a second at most, on a loaded machine),
far below a stall (chained definitions took 85 s at 20 levels before the size limits)."""

VALID = sorted(
    (Path(__file__).resolve().parent.parent / "fixtures" / "criteria" / "valid").glob("*.p4dp")
)
SOURCES = [p.read_text(encoding="utf-8") for p in VALID]
HEAD = 'study "S"\nindex date 2026-01-01\ncodes t2d = icd10 E11\n'


def answered(text: str, service, *, allowed: set[str] | None = None, **kw):
    """Check ``text``: every diagnostic is positioned and renders; errors are in ``allowed``."""
    result = check_text(text, filename="fuzz.p4dp", service=service, **kw)
    lines = text.split("\n")
    for d in result.diagnostics:
        assert 1 <= d.line <= max(1, len(lines)) and d.column >= 1
        assert len(d.render(result.source)) < 2_000
        if allowed is not None and d.severity == "error":
            assert d.code in allowed, d.headline
    assert result.ok == (result.study is not None and not result.errors)
    event("ok" if result.ok else "refused: " + ", ".join(sorted({d.code for d in result.errors})))
    return result


@st.composite
def mixed_encodings(draw: st.DrawFn) -> tuple[bytes, int | None]:
    """A valid file, some lines written in another encoding, maybe a BOM; and the number of
    the first line that is not UTF-8 (None when all are)."""
    lines = draw(st.sampled_from(SOURCES)).split("\n")
    accents = ["é", "è", "à", "ç", "ô", "µ", "—", "€"]
    first_bad: int | None = None
    out: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        if draw(st.booleans()) and not line.lstrip().startswith("study"):
            line = line + "  # " + draw(st.sampled_from(accents))
        encoding = draw(st.sampled_from(["utf-8", "utf-8", "latin-1", "cp1252"]))
        data = line.encode(encoding, errors="replace")
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            first_bad = first_bad or number
        out.append(data)
    bom = b"\xef\xbb\xbf" if draw(st.booleans()) else b""
    return bom + b"\n".join(out), first_bad


@DEADLINE
@given(case=mixed_encodings())
def test_boms_and_mixed_encodings_are_read_or_refused_at_the_bad_line(
    case: tuple[bytes, int | None], service, tmp_path_factory
) -> None:
    data, first_bad = case
    path = tmp_path_factory.mktemp("enc") / "s.p4dp"
    path.write_bytes(data)
    try:
        text = read_source(path)
    except CriteriaError as exc:
        (diag,) = exc.diagnostics
        assert diag.code == "E005 not-utf8" and diag.line == first_bad
        return
    assert first_bad is None
    assert not text.startswith("\ufeff")
    answered(text, service)


NUMBERS = st.one_of(
    st.integers(0, 10**30).map(str),
    st.integers(14, 5000).map(lambda n: "9" * n),
    st.tuples(st.integers(0, 10**20), st.integers(0, 10**6)).map(lambda t: f"{t[0]}.{t[1]}"),
)
TEMPLATES = [
    "age at index > {n}",
    "age at index between 1 and {n}",
    "at least {n} diagnoses t2d",
    "number of diagnoses t2d >= {n}",
    "has diagnosis t2d within {n} days before index",
    "has diagnosis t2d within {n} years after index",
    "has diagnosis t2d between 1 and {n} months before index",
    "registered for at least {n} weeks before index",
    "latest lab loinc 4548-4 > {n} %",
    "at least {n} of (has diagnosis t2d, age at index > 3)",
]


@DEADLINE
@given(template=st.sampled_from(TEMPLATES), number=NUMBERS, as_param=st.booleans())
def test_huge_numbers_are_answered(template: str, number: str, as_param: bool, service) -> None:
    if as_param:
        text = HEAD + "param n = 1\ninclusion\n  r: " + template.format(n="$n") + "\n"
        answered(text, service, allowed=ALLOWED_NUMBER_ERRORS)
        params = {"n": number}
        result = answered(text, service, allowed=ALLOWED_NUMBER_ERRORS, params=params)
    else:
        text = HEAD + "inclusion\n  r: " + template.format(n=number) + "\n"
        result = answered(text, service, allowed=ALLOWED_NUMBER_ERRORS)
    if result.ok:
        assert from_json(to_json(result.study)) == result.study


ALLOWED_NUMBER_ERRORS = {
    "E407 out-of-range",
    "E405 not-whole",
    "E403 bad-at-least",
    "E404 bad-range",
    "E404 bad-window",
    "E401 no-positive-inclusion",
    "E001 syntax",
}


@st.composite
def nested_nots(draw: st.DrawFn) -> tuple[str, int]:
    """``not``, ``not (`` and ``(`` around a condition, up to 400 deep; the number of nots."""
    depth = draw(st.integers(0, 400))
    pieces = draw(st.lists(st.sampled_from(["not ", "not (", "("]), min_size=depth, max_size=depth))
    opened = sum(p.endswith("(") for p in pieces)
    condition = "".join(pieces) + "has diagnosis t2d" + ")" * opened
    return condition, sum(p.startswith("not") for p in pieces)


@DEADLINE
@given(case=nested_nots())
def test_deep_not_chains_are_answered(case: tuple[str, int], service) -> None:
    condition, nots = case
    text = HEAD + f"inclusion\n  a: age at index > 18\n  r: {condition}\n"
    result = answered(text, service, allowed={"E006 too-deep"})
    if nots <= MAX_NESTING - 3:
        assert result.ok, result.render()
    if nots > MAX_CONDITION_DEPTH:
        assert [d.code for d in result.errors] == ["E006 too-deep"]
    format_text(text) if result.ok else None


OPERATIONS = [
    "{0} and {0}",
    "{0} or not {0}",
    "not {0}",
    "({0})",
    "at least 2 of ({0}, {0}, age at index > 30)",
    "{0} and has diagnosis t2d within 6 months before index",
    "{0} and sex is female",
    "({0}) or has diagnosis t2d",
    "not not {0}",
]


@DEADLINE
@given(
    ops=st.integers(1, 60).flatmap(
        lambda n: st.lists(st.sampled_from(OPERATIONS), min_size=n, max_size=n)
    ),
    rule_per_level=st.booleans(),
)
def test_chained_definitions_are_answered(ops: list[str], rule_per_level: bool, service) -> None:
    lines = [HEAD + "define d0 = age at index > 18"]
    lines += [f"define d{i} = " + op.format(f"d{i - 1}") for i, op in enumerate(ops, start=1)]
    lines.append("inclusion\n  base: has diagnosis t2d")
    top = len(ops)
    lines += [f"  r{i}: d{i}" for i in range(top + 1)] if rule_per_level else [f"  r: d{top}"]
    text = "\n".join(lines) + "\n"
    result = answered(text, service, allowed={"E006 too-deep", "E408 too-large"})
    if result.ok:
        assert study_hash(from_json(to_json(result.study))) == study_hash(result.study)
        assert len(to_json(result.study)) < 200 * MAX_CONDITIONS * (top + 1)
