"""Issue 18 (coded answers): ``latest observation X ... is one of (A, B)``, spec tests. The
answers of the records on the set's latest (first) day decide: all listed → true, all known and
none listed → false, otherwise unknown (no record, a record without an answer, answers that
disagree). Every case also runs through the reference evaluator (``rule`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import (
    D,
    codeset,
    engine_rows,
    frames,
    one_rule,
    patient,
    reference_rows,
    rule,
    window_before,
)
from engine_strategies import answer_questions, answers_reached, datasets, one_rule_studies
from hypothesis import given, settings
from hypothesis import strategies as st

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json
from matcher.engine.evaluate import evaluate

NYHA = codeset("nyha", ("loinc", "88020-3"))
CLASS_II_OR_MORE = ("LA28405-1", "LA28406-9", "LA28407-7")


def nyha(pid, day, answer, code="88020-3"):
    return {"patient_id": pid, "date": day, "system": "loinc", "code": code, "value_code": answer}


def answer_is(which="latest", window=None, answers=CLASS_II_OR_MORE) -> ir.AnswerIs:
    events = ir.EventSet(
        ir.Domain.OBSERVATION, ir.CodeSetRef("nyha"), window or ir.Window.up_to_index()
    )
    return ir.AnswerIs(events, which, answers)


def test_issue18_coded_answer_nyha_class_two_or_more_reads_the_latest_assessment():
    """NCT05748158 C16: "Presently classified as being in NYHA Class II or greater"."""
    data = frames(
        patients=[patient(p) for p in ("iii", "improved", "worse", "none", "no_answer", "other")],
        observations=[
            nyha("iii", D(2024, 5, 1), "LA28406-9"),
            nyha("improved", D(2023, 1, 1), "LA28407-7"),
            nyha("improved", D(2024, 5, 1), "LA28404-4"),  # class I now
            nyha("worse", D(2023, 1, 1), "LA28404-4"),
            nyha("worse", D(2024, 5, 1), " LA28405-1 "),  # class II now (padded)
            nyha("no_answer", D(2024, 5, 1), None),
            nyha("other", D(2024, 5, 1), "LA28406-9", code="4548-4"),  # not a NYHA record
            nyha("iii", D(2024, 7, 1), "LA28404-4"),  # after the index date
        ],
    )
    study = one_rule(answer_is(), NYHA)
    assert rule(study, data) == {
        "iii": True,
        "improved": False,
        "worse": True,
        "none": None,
        "no_answer": None,
        "other": None,
    }


def test_issue18_coded_answer_same_day_answers_must_agree_and_first_reads_the_earliest():
    data = frames(
        patients=[patient(p) for p in ("agree", "disagree", "first_i")],
        observations=[
            nyha("agree", D(2024, 5, 1), "LA28405-1"),
            nyha("agree", D(2024, 5, 1), "LA28406-9"),
            nyha("disagree", D(2024, 5, 1), "LA28405-1"),
            nyha("disagree", D(2024, 5, 1), "LA28404-4"),
            nyha("first_i", D(2024, 1, 1), "LA28404-4"),
            nyha("first_i", D(2024, 5, 1), "LA28407-7"),
        ],
    )
    assert rule(one_rule(answer_is(), NYHA), data) == {
        "agree": True,
        "disagree": None,
        "first_i": True,
    }
    first = one_rule(answer_is("first", window_before(12)), NYHA)
    assert rule(first, data) == {"agree": True, "disagree": None, "first_i": False}


SOURCE = 'study "S"\ncodes nyha = loinc 88020-3\ninclusion\n  adult: age at index >= 18\n'


def test_issue18_coded_answer_compiles_formats_round_trips_and_explains():
    text = SOURCE + (
        "  r1: latest observation nyha is one of (LA28405-1, LA28406-9, LA28407-7)\n"
        "  r2: first observation nyha within 1 year before index is one of 421704003\n"
    )
    study = compile_text(text)
    r1, r2 = (r.predicate for r in study.inclusion[1:])
    assert (r1.which, r1.answers) == ("latest", CLASS_II_OR_MORE)
    assert (r2.which, r2.answers) == ("first", ("421704003",))
    formatted = format_text(text)
    assert "is one of (LA28405-1, LA28406-9, LA28407-7)" in formatted
    assert "is one of 421704003" in formatted
    assert compile_text(formatted) == study
    assert from_json(to_json(study)) == study
    assert study_hash(compile_text(formatted)) == study_hash(study)
    words = explain(study)
    assert "LA28405-1 (NYHA class II)" in words and "421704003 (NYHA class II)" in words


@pytest.mark.parametrize(
    "rule_text",
    [
        "max observation nyha is one of LA28405-1",
        "latest diagnosis icd10 I50 is one of LA28405-1",
        "latest observation nyha with value > 2 is one of LA28405-1",
        "latest observation nyha is one of (LA28405-1, CLASS2)",
        "latest observation nyha after first diagnosis icd10 I50 is one of LA28405-1",
    ],
)
def test_issue18_coded_answer_bad_uses_are_e318_at_the_condition(rule_text):
    errors = check_text(SOURCE + f"  r: {rule_text}\n", filename="f.p4dp").errors
    assert [e.code.split()[0] for e in errors] == ["E318"]
    assert (errors[0].line, errors[0].column) == (5, len("  r: ") + 1)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_issue18_coded_answer_engine_agrees_with_reference_on_random_data(data):
    study = data.draw(one_rule_studies(answer_questions()))
    rows = data.draw(datasets(study.index_date))
    assert engine_rows(evaluate(study, rows, validate=False)) == reference_rows(study, rows)


def test_issue18_guard_coded_answer_meets_true_false_and_unknown():
    assert answers_reached(one_rule_studies(answer_questions())) == {True, False, None}
