"""Issue 18 (drugs): the language of persistence and new treatments: parse, compile, errors,
``fmt`` round trip, JSON round trip, criteria hash and ``explain``."""

from __future__ import annotations

import pytest

from criteria_dsl import ir
from criteria_dsl.check import check_text
from criteria_dsl.explain import explain
from criteria_dsl.format import format_text
from criteria_dsl.ir_json import from_json, study_hash, to_json
from criteria_dsl.parser import parse
from terminology.service import default_service

HEAD = (
    'study "S"\nindex date 2024-06-30\ncodes lbp = icd10 M54\ncodes glp1 = atc A10BJ\n'
    "codes hba1c = loinc 4548-4\ninclusion\n"
)


def _check(rules: str):
    return check_text(HEAD + rules, filename="s.p4dp", service=default_service())


def _predicate(condition: str) -> ir.Predicate:
    result = _check(f"  r: {condition}\n  adult: age at index >= 18\n")
    assert result.ok, result.render()
    return result.study.inclusion[0].predicate


def test_issue18_persistence_on_has_compiles_to_spans():
    p = _predicate("has diagnosis of lbp spanning at least 3 months within 1 year before index")
    assert isinstance(p, ir.Spans)
    assert p.duration == ir.Duration(3, ir.TimeUnit.MONTH)
    assert p.events.window.start.offset == ir.Duration(1, ir.TimeUnit.YEAR)
    negated = _predicate("has no diagnosis lbp spanning at least 2 weeks")
    assert isinstance(negated, ir.Not) and isinstance(negated.item, ir.Spans)


@pytest.mark.parametrize(
    "condition",
    [
        "at least 2 diagnoses of lbp on distinct days spanning at least 3 months "
        "within 1 year before index",
        "at least 2 diagnoses of lbp spanning at least 3 months within 1 year before index "
        "on distinct days",
        "at least 2 diagnoses of lbp within 1 year before index on distinct days "
        "spanning at least 3 months",
    ],
)
def test_issue18_persistence_with_a_count_wherever_on_distinct_days_is_written(condition):
    p = _predicate(condition)
    assert isinstance(p, ir.And)
    count, spans = p.items
    assert isinstance(count.left, ir.Count) and count.left.distinct_days
    assert (count.op, count.right.value) == (">=", 2.0)
    assert isinstance(spans, ir.Spans) and spans.events == count.left.events
    assert spans.events.window.start is not None


def test_issue18_new_treatment_compiles_to_first_event():
    p = _predicate("first prescription of glp1 within 30 days before index")
    assert isinstance(p, ir.FirstEvent)
    assert p.events.domain is ir.Domain.PRESCRIPTION
    assert p.events.window.start.offset == ir.Duration(30, ir.TimeUnit.DAY)
    # the aggregate with a comparison is unchanged
    agg = _predicate("first lab hba1c > 7 %")
    assert isinstance(agg, ir.Compare) and isinstance(agg.left, ir.ValueAggregate)


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ("latest prescription of glp1 within 30 days before index", "E311 needs-comparison"),
        ("mean prescription of glp1", "E311 needs-comparison"),
        ("number of diagnoses lbp spanning at least 3 months > 2", "E310 misplaced-option"),
        ("first diagnosis lbp spanning at least 3 months", "E310 misplaced-option"),
        ("latest lab hba1c spanning at least 3 months > 7 %", "E310 misplaced-option"),
        (
            "has diagnosis lbp within 30 days after first (diagnosis lbp spanning at least "
            "1 month)",
            "E310 misplaced-option",
        ),
        (
            "has diagnosis lbp spanning at least 1 month spanning at least 2 months",
            "E406 repeated-option",
        ),
    ],
)
def test_issue18_drug_options_in_the_wrong_place_are_clear_errors(condition, code):
    result = _check(f"  r: {condition}\n")
    assert not result.ok
    assert code in [d.code for d in result.diagnostics], result.render()
    assert "s.p4dp:7:" in result.render()


ROUND_TRIP = (
    "  a: has diagnosis of lbp spanning at least 3 months within 1 year before index\n"
    "  b: at least 2 diagnoses of lbp on distinct days spanning at least 3 months within 1 "
    "year before index\n"
    "  c: first prescription of glp1 within 30 days before index\n"
    "  d: not first lab hba1c with value >= 7 % within 3 months before index\n"
)


def test_issue18_fmt_json_hash_and_explain_round_trip():
    source = HEAD + ROUND_TRIP
    formatted = format_text(source)
    assert parse(formatted) == parse(source)
    assert format_text(formatted) == formatted
    assert "spanning at least 3 months" in formatted
    assert "c: first prescription glp1 within 30 days before index" in formatted
    study = _check(ROUND_TRIP).study
    again = from_json(to_json(study))
    assert again == study and study_hash(again) == study_hash(study)
    shorter = _check(ROUND_TRIP.replace("at least 3 months within", "at least 2 months within"))
    assert study_hash(shorter.study) != study_hash(study)
    text = explain(study)
    assert "are at least 3 months apart" in text
    assert "none of the set before it (the first ever)" in text


# ---- stable dose and no change ------------------------------------------------------------


def test_issue18_stable_dose_and_no_change_compile():
    p = _predicate("stable dose of glp1 for 3 months before index")
    assert p == ir.StableDose(ir.CodeSetRef("glp1"), ir.Duration(3, ir.TimeUnit.MONTH))
    p = _predicate("no change of glp1 within 30 days before index")
    assert p == ir.NoChange(ir.CodeSetRef("glp1"), ir.Duration(30, ir.TimeUnit.DAY))
    assert p.lookback == ir.Duration(1, ir.TimeUnit.YEAR)
    inline = _predicate("stable dose atc C10AA05 for 1 year before index")
    assert isinstance(inline, ir.StableDose)


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ("stable dose of glp1 for 3 months after index", "E404 bad-window"),
        ("no change of glp1 within 30 days after index", "E404 bad-window"),
        ("no change of glp1 ever", "E404 bad-window"),
        ("stable dose of lbp for 3 months before index", "E110 wrong-domain"),
        ("stable dose of nope for 3 months before index", "E101 unknown-codeset"),
    ],
)
def test_issue18_stable_dose_and_no_change_errors(condition, code):
    result = _check(f"  r: {condition}\n")
    assert not result.ok
    assert code in [d.code for d in result.diagnostics], result.render()


def test_issue18_stable_dose_and_no_change_round_trips():
    rules = (
        "  a: stable dose of glp1 for 3 months before index\n"
        "  b: no change of glp1 within 30 days before index\n"
    )
    source = HEAD + rules
    formatted = format_text(source)
    assert parse(formatted) == parse(source) and format_text(formatted) == formatted
    assert "a: stable dose of glp1 for 3 months before index" in formatted
    study = _check(rules).study
    assert from_json(to_json(study)) == study
    other = _check(rules.replace("30 days", "60 days")).study
    assert study_hash(other) != study_hash(study)
    text = explain(study)
    assert "with the same daily dose since" in text
    assert "nor changed in daily dose in the 30 days before the index date" in text
