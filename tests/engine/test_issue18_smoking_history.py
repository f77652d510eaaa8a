"""Issue 18 (smoking history): ``stopped smoking at least D before index`` and ``smoking for
at least D before index``, spec tests.

A former smoker at the index date who quit at least ``D`` before it, read from every
smoking-status record (LOINC 72166-2) on or before the index date: true when a record
answered only "former" is dated on or before index - D and after every record that may say
"current"; false when the status at index is not former, or when a record answered only
"current" is dated on or after index - D; unknown otherwise. Every case also runs through the
reference evaluator (``rule`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import D, frames, one_rule, patient, rule

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, to_json

CURRENT, FORMER, NEVER = "449868002", "8517006", "266919005"
CURRENT_OR_FORMER = "77176002"  # "smoker, current status unknown"


def status(pid, day, answer):
    return {
        "patient_id": pid,
        "date": day,
        "system": "loinc",
        "code": "72166-2",
        "value": None,
        "unit": None,
        "value_code": answer,
    }


ONE_YEAR = ir.SmokingHistory(
    "stopped", ir.Duration(1, ir.TimeUnit.YEAR)
)  # index 2024-06-15: 2023-06-15


def test_issue18_smoking_history_quit_at_least_one_year_ago():
    data = frames(
        patients=[
            patient(p)
            for p in (
                "long_ago",
                "edge",
                "recent",
                "current_edge",
                "between",
                "only_now",
                "never",
                "relapsed",
                "none",
            )
        ],
        observations=[
            status("long_ago", D(2021, 3, 1), CURRENT),
            status("long_ago", D(2022, 1, 10), FORMER),
            status("long_ago", D(2024, 5, 1), FORMER),
            status("edge", D(2023, 6, 15), FORMER),  # exactly index - 1 year
            status("recent", D(2022, 1, 10), FORMER),
            status("recent", D(2023, 9, 1), CURRENT),  # smoking again after the limit
            status("recent", D(2024, 5, 1), FORMER),
            status("current_edge", D(2023, 6, 15), CURRENT),  # smoking on the limit day
            status("current_edge", D(2024, 5, 1), FORMER),
            status("between", D(2022, 1, 10), CURRENT),  # quit between 2022 and 2024
            status("between", D(2024, 5, 1), FORMER),
            status("only_now", D(2024, 5, 1), FORMER),
            status("never", D(2020, 1, 1), FORMER),
            status("never", D(2024, 5, 1), NEVER),  # not former at index
            status("relapsed", D(2021, 1, 1), FORMER),
            status("relapsed", D(2024, 6, 1), CURRENT),
        ],
    )
    assert rule(one_rule(ONE_YEAR), data) == {
        "long_ago": True,
        "edge": True,
        "recent": False,
        "current_edge": False,
        "between": None,
        "only_now": None,
        "never": False,
        "relapsed": False,
        "none": None,
    }


def test_issue18_smoking_history_ambiguous_answers_and_later_records():
    data = frames(
        patients=[patient(p) for p in ("maybe_current", "after_index", "no_answer")],
        observations=[
            status("maybe_current", D(2022, 1, 1), FORMER),
            status("maybe_current", D(2023, 1, 1), CURRENT_OR_FORMER),  # may be current
            status("maybe_current", D(2024, 5, 1), FORMER),
            status("after_index", D(2022, 1, 1), FORMER),
            status("after_index", D(2024, 7, 1), CURRENT),  # after the index date: ignored
            status("no_answer", D(2022, 1, 1), None),
            status("no_answer", D(2024, 5, 1), FORMER),
        ],
    )
    assert rule(one_rule(ONE_YEAR), data) == {
        "maybe_current": None,
        "after_index": True,
        "no_answer": None,
    }


FIVE_YEARS = ir.SmokingHistory("smoking", ir.Duration(5, ir.TimeUnit.YEAR))  # from 2019-06-15


def test_issue18_smoking_history_smoked_throughout_the_last_five_years():
    """A current smoker recorded "current" on or before index - 5 years and only "current"
    since; false with a record saying otherwise in the period; unknown without a record
    before the period or with an ambiguous one in it."""
    data = frames(
        patients=[
            patient(p)
            for p in ("steady", "edge", "quit_between", "late_start", "ambiguous", "quit_now")
        ],
        observations=[
            status("steady", D(2017, 1, 1), CURRENT),
            status("steady", D(2021, 1, 1), CURRENT),
            status("steady", D(2024, 5, 1), CURRENT),
            status("edge", D(2019, 6, 15), CURRENT),  # exactly index - 5 years
            status("edge", D(2024, 5, 1), CURRENT),
            status("quit_between", D(2017, 1, 1), CURRENT),
            status("quit_between", D(2020, 3, 1), FORMER),  # stopped within the period
            status("quit_between", D(2024, 5, 1), CURRENT),
            status("late_start", D(2021, 1, 1), CURRENT),  # no record before the period
            status("late_start", D(2024, 5, 1), CURRENT),
            status("ambiguous", D(2017, 1, 1), CURRENT),
            status("ambiguous", D(2022, 1, 1), CURRENT_OR_FORMER),
            status("ambiguous", D(2024, 5, 1), CURRENT),
            status("quit_now", D(2017, 1, 1), CURRENT),
            status("quit_now", D(2024, 5, 1), FORMER),
        ],
    )
    assert rule(one_rule(FIVE_YEARS), data) == {
        "steady": True,
        "edge": True,
        "quit_between": False,
        "late_start": None,
        "ambiguous": None,
        "quit_now": False,
    }


HEAD = 'study "S"\ninclusion\n'


def test_issue18_smoking_history_parses_formats_and_explains():
    text = (
        HEAD
        + "  r: smoking status at index is never or stopped   smoking at least 1 year "
        + "before index\n"
    )
    study = compile_text(text)
    assert study.inclusion[0].predicate.items[1] == ONE_YEAR
    formatted = format_text(text)
    assert "never or stopped smoking at least 1 year before index" in formatted
    assert compile_text(formatted) == study
    assert "stopped smoking at least 1 year before it" in explain(study)
    assert from_json(to_json(study)) == study
    smoking = compile_text(HEAD + "  r: smoking   for at least 5 years before index\n")
    assert smoking.inclusion[0].predicate == FIVE_YEARS
    assert "smoking for at least 5 years before index" in format_text(
        HEAD + "  r: smoking   for at least 5 years before index\n"
    )
    assert "smoked throughout the 5 years before it" in explain(smoking)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("stopped smoking at least 1 year after index", "E404 bad-window"),
        ("smoking for at least 1 year around index", "E404 bad-window"),
        ("stopped smoking at least 1 decade before index", "E001"),
    ],
)
def test_issue18_smoking_history_errors(text, code):
    result = check_text(HEAD + f"  r: {text}\n", filename="a.p4dp")
    assert result.errors and result.errors[0].code.startswith(code)
