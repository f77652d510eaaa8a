"""Issue 18 (cause of an event): ``with diagnosis of X on the same day``, spec tests.

An event with the option counts only on a day when the patient also has a diagnosis of ``X``
(whatever that diagnosis's own date: the event's window decides). Every case also runs
through the reference evaluator (``rule`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import D, codeset, frames, one_rule, patient, rule, window_before

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json

HF = codeset("hf", ("icd10", "I50.0"), ("icd10", "I50.9"))
STEROIDS = codeset("steroids", ("atc", "H02AB06"))
EXACERBATION = codeset("exacerbation", ("icd10", "J44.1"))


def dx(pid, day, code):
    return {"patient_id": pid, "date": day, "system": "icd10", "code": code}


def stay(pid, day, kind="admission"):
    return {"patient_id": pid, "date": day, "practice_id": None, "kind": kind}


def rx(pid, day, code="H02AB06"):
    return {"patient_id": pid, "date": day, "system": "atc", "code": code}


def admissions_for_hf(months: int = 3) -> ir.Predicate:
    events = ir.EventSet(
        ir.Domain.ENCOUNTER,
        None,
        window_before(months),
        kinds=("admission",),
        same_day=ir.CodeSetRef("hf"),
    )
    return ir.Exists(events)


def test_issue18_cause_link_admission_for_heart_failure_needs_the_diagnosis_that_day():
    data = frames(
        patients=[patient(p) for p in ("for_hf", "other_day", "hf_old_stay", "no_dx", "er")],
        encounters=[
            stay("for_hf", D(2024, 5, 2)),
            stay("other_day", D(2024, 5, 2)),
            stay("hf_old_stay", D(2023, 1, 10)),  # a stay for HF, before the window
            stay("no_dx", D(2024, 5, 2)),
            stay("er", D(2024, 5, 2), kind="emergency"),  # not an admission
        ],
        diagnoses=[
            dx("for_hf", D(2024, 5, 2), "I50.9"),
            dx("other_day", D(2024, 5, 3), "I50.9"),  # the day after: not the stay's cause
            dx("hf_old_stay", D(2023, 1, 10), "I50.0"),
            dx("no_dx", D(2024, 5, 2), "E11.9"),  # another diagnosis that day
            dx("er", D(2024, 5, 2), "I50.9"),
        ],
    )
    assert rule(one_rule(admissions_for_hf(), HF), data) == {
        "for_hf": True,
        "other_day": False,
        "hf_old_stay": False,
        "no_dx": False,
        "er": False,
    }


def test_issue18_cause_link_diagnosis_outside_the_window_still_links_its_day():
    """The diagnosis is looked up on the event's day, whatever the event's window: a
    diagnosis dated on the index date links a prescription of that day; and counts count the
    linked events only."""
    data = frames(
        patients=[patient("a"), patient("b")],
        prescriptions=[
            rx("a", D(2024, 6, 1)),
            rx("a", D(2024, 5, 1)),
            rx("a", D(2024, 4, 1)),
            rx("b", D(2024, 6, 1)),
        ],
        diagnoses=[
            dx("a", D(2024, 6, 1), "J44.1"),
            dx("a", D(2024, 4, 1), "J44.1"),
            dx("a", D(2024, 4, 1), "J44.1"),  # twice that day: still one prescription
            dx("b", D(2024, 5, 1), "J44.1"),
        ],
    )
    events = ir.EventSet(
        ir.Domain.PRESCRIPTION,
        ir.CodeSetRef("steroids"),
        window_before(12),
        same_day=ir.CodeSetRef("exacerbation"),
    )
    two = ir.Compare(ir.Count(events), ">=", ir.Quantity(2))
    assert rule(one_rule(two, STEROIDS, EXACERBATION), data) == {"a": True, "b": False}
    one = ir.Compare(ir.Count(events), "==", ir.Quantity(0))
    assert rule(one_rule(one, STEROIDS, EXACERBATION), data) == {"a": False, "b": True}


def test_issue18_cause_link_as_an_anchor():
    """``after latest (admission with diagnosis of hf on the same day)``."""
    anchor_events = admissions_for_hf(12).events
    anchor = ir.EventDate(anchor_events, "latest")
    after = ir.Window(ir.Bound(anchor), ir.Bound(ir.IndexDate()))
    pred = ir.Exists(ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("steroids"), after))
    data = frames(
        patients=[patient("after"), patient("before")],
        encounters=[stay("after", D(2024, 3, 1)), stay("before", D(2024, 3, 1))],
        diagnoses=[dx("after", D(2024, 3, 1), "I50.9"), dx("before", D(2024, 3, 1), "I50.9")],
        prescriptions=[rx("after", D(2024, 4, 1)), rx("before", D(2024, 2, 1))],
    )
    assert rule(one_rule(pred, HF, STEROIDS), data) == {"after": True, "before": False}


HEAD = (
    'study "S"\ncodes hf = icd10 I50 and descendants\ncodes steroids = atc H02AB and descendants\n'
    "inclusion\n"
)


def test_issue18_cause_link_parses_formats_and_explains():
    text = HEAD + (
        "  r: has admission with diagnosis of hf on the same day within 3 months before index\n"
        "  s: at least 2 prescriptions of steroids with diagnoses icd10 J44.1 on the same day "
        "within 1 year before index\n"
    )
    study = compile_text(text)
    r, s = (rule.predicate for rule in study.inclusion)
    assert r.events.same_day == ir.CodeSetRef("hf") and r.events.kinds == ("admission",)
    assert s.left.events.same_day is not None
    formatted = format_text(text)
    assert "with diagnosis of hf on the same day within 3 months before index" in formatted
    assert "with diagnosis of icd10 J44.1 on the same day" in formatted
    assert compile_text(formatted) == study
    assert "dated on a day with a diagnosis from code set 'hf'" in explain(study)
    assert from_json(to_json(study)) == study


def test_issue18_cause_link_leaves_the_hash_of_studies_without_it_unchanged():
    plain = compile_text(HEAD + "  r: has admission within 3 months before index\n")
    assert '"same_day"' not in to_json(plain)
    linked = compile_text(
        HEAD + "  r: has admission with diagnosis of hf on the same day within 3 months "
        "before index\n"
    )
    assert '"same_day"' in to_json(linked) and study_hash(linked) != study_hash(plain)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("has admission with prescription of steroids on the same day", "E316 bad-cause"),
        (
            "has admission with diagnosis of hf on the same day with diagnosis of hf on the "
            "same day",
            "E406 repeated-option",
        ),
        ("has admission with diagnosis of atc H02AB06 on the same day", "E110 wrong-domain"),
    ],
)
def test_issue18_cause_link_errors(text, code):
    result = check_text(HEAD + f"  r: {text}\n", filename="a.p4dp")
    assert [d.code for d in result.errors] == [code]
