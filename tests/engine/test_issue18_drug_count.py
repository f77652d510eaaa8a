"""Issue 18 (language reach, drug_count): ``at least N distinct drugs of x``, spec tests.

A drug is a distinct (system, code) pair among the prescriptions of the set in the window: an
ATC substance (level 5) counts once however often it is prescribed, two substances of one class
count twice, and a code of another system (``cip13``) is a drug of its own. Every case also runs
through the reference evaluator (``run`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import D, codeset, frames, one_rule, patient, rule, window_before

from criteria_dsl import compile_text, ir

AHT = codeset(
    "aht",
    ("atc", "C09AA02"),  # enalapril
    ("atc", "C09AA05"),  # ramipril
    ("atc", "C03AA03"),  # hydrochlorothiazide
    ("atc", "C08CA01"),  # amlodipine
    ("atc", "C07AB07"),  # bisoprolol
    ("cip13", "3400930000001"),
)


JUNE = D(2024, 6, 1)


def rx(pid, code, day=JUNE, system="atc", **kw):
    return {"patient_id": pid, "date": day, "system": system, "code": code, **kw}


def drugs(op: str, n: int, *, months: int = 3, dose: ir.DoseCondition | None = None):
    events = ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("aht"), window_before(months), dose)
    return ir.Compare(ir.Count(events, distinct_drugs=True), op, ir.Quantity(n))


DATA = frames(
    patients=[patient(p) for p in ("none", "one_often", "two", "four", "old", "other_sys")],
    prescriptions=[
        *(rx("one_often", "C09AA02", D(2024, m, 1)) for m in (4, 5, 6)),  # one drug, 3 rows
        rx("two", "C09AA02"),
        rx("two", "C09AA05"),  # same class (C09AA), another substance
        *(rx("four", c) for c in ("C09AA02", "C03AA03", "C08CA01", "C07AB07", "C07AB07")),
        rx("old", "C09AA02"),
        *(rx("old", c, D(2023, 1, 1)) for c in ("C03AA03", "C08CA01", "C07AB07")),  # too early
        rx("other_sys", "C09AA02"),
        rx("other_sys", "3400930000001", system="cip13"),
        rx("other_sys", "C10AA05"),  # a statin: not in the set
    ],
)


def test_issue18_drug_count_counts_substances_not_rows():
    at_least_2 = rule(one_rule(drugs(">=", 2), AHT), DATA)
    assert at_least_2 == {
        "none": False,
        "one_often": False,  # three prescriptions of one substance are one drug
        "two": True,
        "four": True,
        "old": False,  # only one drug inside the window
        "other_sys": True,  # a cip13 code is a drug of its own
    }
    assert rule(one_rule(drugs(">=", 4), AHT), DATA) == {
        "none": False,
        "one_often": False,
        "two": False,
        "four": True,
        "old": False,
        "other_sys": False,
    }


def test_issue18_drug_count_at_most_and_exactly_include_patients_without_any():
    at_most_1 = rule(one_rule(drugs("<=", 1), AHT), DATA)
    assert at_most_1 == {
        "none": True,
        "one_often": True,
        "two": False,
        "four": False,
        "old": True,
        "other_sys": False,
    }
    exactly_1 = rule(one_rule(drugs("==", 1), AHT), DATA)
    assert [p for p, v in exactly_1.items() if v] == ["one_often", "old"]
    wide = rule(one_rule(drugs(">=", 4, months=24), AHT), DATA)
    assert wide["old"] is True  # the earlier drugs count in a two-year window


def test_issue18_drug_count_is_unknown_where_rows_of_unknown_dose_could_reach_n():
    dose = ir.DoseCondition(True, ">=", ir.Quantity(10, "mg"), ())
    data = frames(
        patients=[patient(p) for p in ("sure", "maybe", "short")],
        prescriptions=[
            rx("sure", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("sure", "C09AA05", daily_dose=10.0, dose_unit="mg"),
            rx("maybe", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("maybe", "C09AA05", daily_dose=None, dose_unit="mg"),  # may be >= 10 mg
            rx("short", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("short", "C09AA05", daily_dose=5.0, dose_unit="mg"),  # surely below
        ],
    )
    got = rule(one_rule(drugs(">=", 2, dose=dose), AHT), data)
    assert got == {"sure": True, "maybe": None, "short": False}


def test_issue18_drug_count_parses_formats_and_compiles():
    text = (
        'study "S"\ncodes aht = atc C09AA02, atc C09AA05\ninclusion\n'
        "  many: at least 2 distinct drugs of aht within 3 months before index\n"
        "  one: at most 1 distinct drug aht within 1 year before index\n"
        "  n: number of distinct drugs of aht ever >= 2\n"
    )
    study = compile_text(text)
    counts = [r.predicate.left for r in study.inclusion]
    assert all(isinstance(c, ir.Count) and c.distinct_drugs for c in counts)
    assert [r.predicate.op for r in study.inclusion] == [">=", "<=", ">="]
    assert counts[1].events.window.start.offset == ir.Duration(1, ir.TimeUnit.YEAR)


def test_issue18_drug_count_only_for_prescriptions_in_the_ir():
    events = ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("dm"), ir.Window())
    with pytest.raises(ir.IRError, match="only prescriptions"):
        ir.Count(events, distinct_drugs=True)
    with pytest.raises(ir.IRError, match="not both"):
        ir.Count(
            ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("x"), ir.Window()),
            distinct_days=True,
            distinct_drugs=True,
        )


def test_issue18_drug_count_lint_warns_when_n_exceeds_the_codes_of_the_set():
    from criteria_dsl import check_text

    head = 'study "S"\ncodes aht = atc C09AA02, atc C09AA05\ninclusion\n  age: age at index >= 18\n'
    never = check_text(head + "  r: at least 3 distinct drugs of aht within 1 year before index\n")
    assert any("W502" in d.code and "'r'" in d.message for d in never.warnings)
    fine = check_text(head + "  r: at least 2 distinct drugs of aht within 1 year before index\n")
    assert not any("W502" in d.code for d in fine.warnings)
