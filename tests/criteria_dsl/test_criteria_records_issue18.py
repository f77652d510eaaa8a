"""Issue 18 (records): the language of procedures, admissions and emergency visits: parsing
into the IR, format checks of the procedure systems, shipped-but-partial CCAM, E110, JSON round
trip and hash, ``fmt`` round trip, ``explain`` and lint."""

from __future__ import annotations

import pytest

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json

HEAD = 'study "REC"\nindex date 2026-01-01\ncodes bariatric_surgery = ccam HFFC018, HFCC003\n'


def _rule(condition: str) -> ir.Predicate:
    source = HEAD + f"inclusion\n  adult: age at index >= 18\n  r: {condition}\n"
    return compile_text(source).rules[1].predicate


def test_issue18_procedure_words_build_procedure_event_sets():
    pred = _rule("has procedure of bariatric_surgery within 5 years before index")
    assert isinstance(pred, ir.Exists)
    assert pred.events.domain is ir.Domain.PROCEDURE
    assert pred.events.codes == ir.CodeSetRef("bariatric_surgery")
    count = _rule("at least 1 procedure of bariatric_surgery ever")
    assert isinstance(count, ir.Compare) and count.left.events.domain is ir.Domain.PROCEDURE
    inline = _rule("has procedure ccam DEQP003")
    assert inline.events.domain is ir.Domain.PROCEDURE


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("at least 3 admissions within 12 months before index", "admission"),
        ("number of admissions within 1 year before index >= 2", "admission"),
        ("has no emergency visit within 6 months before index", "emergency"),
        ("at least 2 emergency visits within 1 year before index", "emergency"),
    ],
)
def test_issue18_admission_and_emergency_sugar_are_encounter_kinds(written, kind):
    pred = _rule(written)
    long_form = written.replace("emergency visits", "encounters of kind emergency")
    long_form = long_form.replace("emergency visit", "encounter of kind emergency")
    long_form = long_form.replace("admissions", "encounters of kind admission")
    assert pred == _rule(long_form)
    events = next(n for n in ir.walk(pred) if isinstance(n, ir.EventSet))
    assert events.domain is ir.Domain.ENCOUNTER and events.kinds == (kind,)


def test_issue18_anchors_on_procedures_and_admissions():
    pred = _rule("has diagnosis icd10 E11.9 within 1 year after first procedure bariatric_surgery")
    anchor = pred.events.window.end.anchor
    assert isinstance(anchor, ir.EventDate) and anchor.events.domain is ir.Domain.PROCEDURE
    pred = _rule("has emergency visit within 30 days after latest admission")
    anchor = pred.events.window.start.anchor
    assert anchor.which == "latest" and anchor.events.kinds == ("admission",)


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ("ccam HFFC18", "CCAM code 'HFFC18' is not well formed"),
        ("snomed 73761002", "wrong check digit (expected 73761001)"),
        ("icd10pcs 0DB64I3", "ICD-10-PCS code '0DB64I3' is not well formed"),
        ("cpt 4537", "CPT code '4537' is not well formed"),
        ("cpt 4537*", "cannot be expanded; list exact codes"),
    ],
)
def test_issue18_procedure_systems_are_format_checked(codes, message):
    result = check_text(HEAD + f"codes x = {codes}\ninclusion\n  r: has procedure x\n")
    assert not result.ok
    assert message in result.render()


def test_issue18_exact_procedure_systems_compile_as_written():
    study = compile_text(
        HEAD + "codes x = icd10pcs 0DT90ZZ, snomed 73761001, cpt 45378\n"
        "inclusion\n  r: has procedure x\n"
    )
    codes = {(c.system, c.code) for c in study.codeset("x").resolved.codes}
    assert codes == {("icd10pcs", "0DT90ZZ"), ("snomed", "73761001"), ("cpt", "45378")}


def test_issue18_ccam_code_not_shipped_is_named_as_such_never_a_did_you_mean():
    result = check_text(HEAD + "inclusion\n  r: has procedure ccam HFFC004\n")
    assert result.ok
    text = result.render()
    assert "CCAM HFFC004 is a valid code not in the shipped table" in text
    assert "p4dp terms load ccam FILE" in text
    assert "did you mean" not in text


def test_issue18_procedure_systems_never_in_other_events_and_back():
    wrong = check_text(HEAD + "inclusion\n  r: has diagnosis bariatric_surgery\n")
    assert "E110" in wrong.render() or "never appear in diagnoses" in wrong.render()
    wrong = check_text(HEAD + "inclusion\n  r: has procedure icd10 E11.9\n")
    assert "never appear in procedures" in wrong.render()


def test_issue18_ir_round_trips_through_json_fmt_and_explain():
    source = HEAD + (
        "inclusion\n"
        "  bariatric: has procedure of bariatric_surgery within 5 years before index\n"
        "  hospital:  at least 3 admissions within 12 months before index\n"
        "  er:        has no emergency visit within 6 months before index\n"
        "  after:     has admission within 30 days after first procedure bariatric_surgery\n"
    )
    study = compile_text(source)
    assert from_json(to_json(study)) == study
    assert study_hash(from_json(to_json(study))) == study_hash(study)
    other = compile_text(source.replace("5 years", "4 years"))
    assert study_hash(other) != study_hash(study)
    assert compile_text(format_text(source)) == study
    text = explain(study)
    assert "procedure from code set 'bariatric_surgery'" in text
    assert "encounters of kind admission" in text
    assert check_text(source).ok  # lint runs on every new node without crashing
