"""Issue 18 (records): 'has allergy to X [of kind K]' in the language: parse, IR, explain,
fmt, JSON round trip and study hash, and the errors of a wrong kind or a wrong code system."""

from __future__ import annotations

import pytest

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json

HEAD = 'study "A" version 1\nindex date 2024-06-15\n\ncodes pen = atc J01C and descendants\n\n'


def _study(rule: str) -> ir.Study:
    return compile_text(HEAD + f"inclusion\n  r: {rule}\n")


def _events(study: ir.Study) -> ir.EventSet:
    return next(n for n in ir.walk(study.rules[0].predicate) if isinstance(n, ir.EventSet))


def test_issue18_allergy_covers_both_kinds_unless_of_kind_restricts_it():
    both = _events(_study("has allergy to pen"))
    assert both.domain is ir.Domain.ALLERGY and both.kinds == ()
    one = _events(_study("has allergy to pen of kind intolerance within 2 years before index"))
    assert one.kinds == ("intolerance",)
    assert one.window.start is not None
    negated = _study("age at index >= 18 and has no allergy to atc C10AA and descendants")
    assert isinstance(negated.rules[0].predicate.items[1], ir.Not)


def test_issue18_allergy_json_round_trip_and_hash_change_with_the_kind():
    studies = [
        _study("has allergy to pen"),
        _study("has allergy to pen of kind intolerance"),
        _study("has allergy to pen of kind allergy"),
        _study("at least 2 allergies to pen of kind (allergy, intolerance)"),
    ]
    for study in studies:
        assert from_json(to_json(study)) == study
    assert len({study_hash(s) for s in studies}) == len(studies)


def test_issue18_allergy_explain_and_fmt():
    text = explain(_study("has allergy to pen"))
    assert "allergy or intolerance from code set 'pen'" in text
    text = explain(_study("has allergy to pen of kind intolerance"))
    assert "intolerance (a record of unrecorded kind: unknown)" in text
    source = HEAD + (
        "inclusion\n"
        "  r: has allergy to pen of kind intolerance within 2 years before index\n"
        "  s: number of allergies to pen >= 1\n"
        "  t: has encounter within 30 days after first allergy to pen\n"
    )
    assert format_text(source) == source
    squeezed = source.replace("allergies to pen", "allergies  to  pen")
    assert format_text(squeezed) == source


@pytest.mark.parametrize(
    ("rule", "code"),
    [
        ("has allergy to pen of kind severe", "E314 bad-kind"),
        ("has allergy to icd10 E11", "E110 wrong-domain"),
        ("has allergy to pen with value > 1", "E304 no-value"),
    ],
)
def test_issue18_allergy_errors(rule: str, code: str):
    result = check_text(HEAD + f"inclusion\n  r: {rule}\n", filename="a.p4dp")
    assert not result.ok
    assert [d.code for d in result.errors] == [code]


def test_issue18_ir_refuses_an_allergy_kind_outside_the_list():
    with pytest.raises(ir.IRError, match="allergy or intolerance"):
        ir.EventSet(ir.Domain.ALLERGY, ir.CodeSetRef("pen"), ir.Window.up_to_index(), kinds=("x",))
