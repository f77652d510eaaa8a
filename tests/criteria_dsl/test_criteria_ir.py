"""The IR rejects nonsense when it is built, and its identity ignores layout."""

from __future__ import annotations

import datetime as dt

import pytest

from criteria_dsl import compile_text
from criteria_dsl import ir as I
from criteria_dsl.ir_json import from_json, study_hash, to_json

WINDOW = I.Window.up_to_index()
DIAGNOSES = I.EventSet(I.Domain.DIAGNOSIS, I.CodeSetRef("t2d"), WINDOW)
LABS = I.EventSet(I.Domain.OBSERVATION, I.CodeSetRef("hba1c"), WINDOW)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: I.ValueAggregate(DIAGNOSES, "latest", "%"), "only observations have values"),
        (lambda: I.EventSet(I.Domain.PRESCRIPTION, None, WINDOW), "need a code set"),
        (
            lambda: I.EventSet(
                I.Domain.DIAGNOSIS, I.CodeSetRef("x"), WINDOW, I.ValueCondition(">", I.Quantity(1))
            ),
            "only observations",
        ),
        (lambda: I.Compare(I.Age(), ">=", I.Quantity(18, "%")), "take no unit"),
        (lambda: I.Compare(DIAGNOSES, ">=", I.Quantity(1)), "Compare.left must be"),  # type: ignore[arg-type]
        (lambda: I.Exists(I.Age()), "Exists.events must be EventSet"),  # type: ignore[arg-type]
        (lambda: I.AtLeast(3, (I.Constant(True), I.Constant(False))), "has only 2 items"),
        (lambda: I.And((I.Constant(True),)), "at least 2 items"),
        (lambda: I.Duration(-1, I.TimeUnit.DAY), "non-negative"),
        (lambda: I.SexIs("U"), "sex must be"),  # type: ignore[arg-type]
        (lambda: I.Rule("not an id", I.Section.INCLUSION, I.Constant(True)), "identifier"),
    ],
)
def test_nonsense_is_rejected_on_construction(build, message: str) -> None:
    with pytest.raises(I.IRError, match=message):
        build()


def test_study_refuses_unknown_code_sets_and_duplicate_rules() -> None:
    rule = I.Rule("a", I.Section.INCLUSION, I.Exists(DIAGNOSES))
    with pytest.raises(I.IRError, match="unknown code set 't2d'"):
        I.Study("S", 1, None, None, (), (), (rule,), ())
    with pytest.raises(I.IRError, match="unique"):
        I.Study("S", 1, None, None, (), (), (rule, rule), ())


def test_spans_take_no_part_in_equality_or_hash() -> None:
    a = I.CodeSetRef("t2d", span=I.Span(1, 1, 1, 4))
    b = I.CodeSetRef("t2d", span=I.Span(9, 3, 9, 6))
    assert a == b and hash(a) == hash(b)


SOURCE = """study "S" version 1
index date 2026-01-01
codes t2d = icd10 E11 and descendants
inclusion
  diabetes: has diagnosis t2d within 2 years before index
"""


def test_layout_does_not_change_the_hash_but_meaning_does() -> None:
    compact = compile_text(SOURCE)
    spaced = compile_text(SOURCE.replace("diabetes: ", "diabetes:      ") + "\n# comment\n")
    assert study_hash(compact) == study_hash(spaced)
    changed = compile_text(SOURCE.replace("2 years", "3 years"))
    assert study_hash(changed) != study_hash(compact)
    assert from_json(to_json(changed)) == changed
    assert changed.index_date == dt.date(2026, 1, 1)
