"""Issue 18 (langdata item 3): ``at least N distinct classes of x at ATC level K``, spec tests.

A class of level K is the first 1/3/4/5/7 characters (level 1/2/3/4/5) of an ATC code among
the prescriptions of the set in the window: two substances of one class count once, a code of
another system or an ATC code shorter than the level names no class and is not counted. Every
case also runs through the reference evaluator (``rule`` asserts both agree)."""

from __future__ import annotations

import pytest
from engine_helpers import D, codeset, frames, one_rule, patient, rule, window_before

from criteria_dsl import check_text, compile_text, explain, format_text, ir
from criteria_dsl.ir_json import from_json, study_hash, to_json

AHT = codeset(
    "aht",
    ("atc", "C09AA02"),  # enalapril    C09AA, ACE inhibitors
    ("atc", "C09AA05"),  # ramipril     C09AA
    ("atc", "C09CA01"),  # losartan     C09CA, sartans (C09C at level 3)
    ("atc", "C03AA03"),  # hydrochlorothiazide  C03AA (C03 at level 2)
    ("atc", "C07AB07"),  # bisoprolol   C07AB
    ("atc", "C09A"),  # a code recorded at level 3 only
    ("cip13", "3400930000001"),
)

JUNE = D(2024, 6, 1)


def rx(pid, code, day=JUNE, system="atc", **kw):
    return {"patient_id": pid, "date": day, "system": system, "code": code, **kw}


def classes(op: str, n: int, level: int, *, months: int = 3, dose=None) -> ir.Compare:
    events = ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("aht"), window_before(months), dose)
    return ir.Compare(ir.Count(events, atc_level=level), op, ir.Quantity(n))


DATA = frames(
    patients=[patient(p) for p in ("none", "two_ace", "ace_arb", "three", "short", "old", "cip")],
    prescriptions=[
        rx("two_ace", "C09AA02"),
        rx("two_ace", "C09AA05"),  # another substance of the same class C09AA
        rx("ace_arb", "C09AA02"),
        rx("ace_arb", "C09CA01"),  # C09C: another class at level 3 and 4, the same at level 2
        *(rx("three", c) for c in ("C09AA02", "C03AA03", "C07AB07", "C07AB07")),
        rx("short", "C09A"),  # names C09A (level 3) but no class of level 4
        rx("short", "C09AA02"),
        rx("old", "C09AA02"),
        *(rx("old", c, D(2023, 1, 1)) for c in ("C03AA03", "C07AB07")),  # outside 3 months
        rx("cip", "C09AA02"),
        rx("cip", "3400930000001", system="cip13"),  # no ATC class: not counted
        rx("cip", "C10AA05"),  # a statin: not in the set
    ],
)


def test_issue18_distinct_classes_count_classes_of_the_level_not_substances():
    at_least_2_l4 = rule(one_rule(classes(">=", 2, 4), AHT), DATA)
    assert at_least_2_l4 == {
        "none": False,
        "two_ace": False,  # two substances, one chemical subgroup C09AA
        "ace_arb": True,  # C09AA and C09CA
        "three": True,
        "short": False,  # C09A names no level-4 class: only C09AA counts
        "old": False,
        "cip": False,  # a cip13 code has no ATC class
    }
    at_least_2_l3 = rule(one_rule(classes(">=", 2, 3), AHT), DATA)
    assert [p for p, v in at_least_2_l3.items() if v] == ["ace_arb", "three"]
    at_least_2_l2 = rule(one_rule(classes(">=", 2, 2), AHT), DATA)
    assert [p for p, v in at_least_2_l2.items() if v] == ["three"]  # C09 + C03 + C07
    at_least_3_l1 = rule(one_rule(classes(">=", 2, 1), AHT), DATA)
    assert not any(at_least_3_l1.values())  # every code is cardiovascular (C)
    level5 = rule(one_rule(classes(">=", 2, 5), AHT), DATA)  # substances, ATC codes only
    assert [p for p, v in level5.items() if v] == ["two_ace", "ace_arb", "three"]


def test_issue18_distinct_classes_at_most_exactly_and_window():
    at_most_1 = rule(one_rule(classes("<=", 1, 4), AHT), DATA)
    assert [p for p, v in at_most_1.items() if v] == ["none", "two_ace", "short", "old", "cip"]
    exactly_3 = rule(one_rule(classes("==", 3, 4), AHT), DATA)
    assert [p for p, v in exactly_3.items() if v] == ["three"]
    wide = rule(one_rule(classes(">=", 3, 4, months=24), AHT), DATA)
    assert wide["old"] is True  # the earlier classes count in a two-year window


def test_issue18_distinct_classes_unknown_where_rows_of_unknown_dose_could_reach_n():
    dose = ir.DoseCondition(True, ">=", ir.Quantity(10, "mg"), ())
    data = frames(
        patients=[patient(p) for p in ("sure", "maybe", "same_class")],
        prescriptions=[
            rx("sure", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("sure", "C03AA03", daily_dose=25.0, dose_unit="mg"),
            rx("maybe", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("maybe", "C03AA03", daily_dose=None, dose_unit="mg"),  # may be >= 10 mg
            rx("same_class", "C09AA02", daily_dose=20.0, dose_unit="mg"),
            rx("same_class", "C09AA05", daily_dose=None, dose_unit="mg"),  # same class anyway
        ],
    )
    got = rule(one_rule(classes(">=", 2, 4, dose=dose), AHT), data)
    assert got == {"sure": True, "maybe": None, "same_class": False}


TEXT = (
    'study "S"\ncodes aht = atc C09AA02, atc C09AA05, atc C03AA03\ninclusion\n'
    "  many: at least 2 distinct classes of aht at ATC level 4 within 3 months before index\n"
    "  one: at most 1 distinct class aht at atc level 3 within 1 year before index\n"
    "  n: number of distinct classes of aht at ATC level 2 ever >= 2\n"
    "  e: exactly 1 distinct class of aht at ATC level 1\n"
)


def test_issue18_distinct_classes_parse_compile_format_and_round_trip():
    study = compile_text(TEXT)
    counts = [r.predicate.left for r in study.inclusion]
    assert [c.atc_level for c in counts] == [4, 3, 2, 1]
    assert not any(c.distinct_drugs or c.distinct_days for c in counts)
    assert [r.predicate.op for r in study.inclusion] == [">=", "<=", ">=", "=="]
    assert counts[1].events.window.start.offset == ir.Duration(1, ir.TimeUnit.YEAR)
    formatted = format_text(TEXT)
    assert "at least 2 distinct classes of aht at ATC level 4 within 3 months" in formatted
    assert "at most 1 distinct class of aht at ATC level 3 within 1 year" in formatted
    assert compile_text(formatted) == study  # formatting keeps the meaning
    assert from_json(to_json(study)) == study
    assert study_hash(from_json(to_json(study))) == study_hash(study)


def test_issue18_distinct_classes_leave_other_study_hashes_unchanged():
    """The new field is left out of the JSON while unused: older studies keep their hash."""
    plain = compile_text(
        'study "S"\ncodes x = atc C09AA02\ninclusion\n  r: at least 2 rx\n'.replace(
            "at least 2 rx", "at least 2 prescriptions of x"
        )
    )
    assert "atc_level" not in to_json(plain)
    assert '"atc_level": 4' in to_json(compile_text(TEXT))


def test_issue18_distinct_classes_explain_says_what_is_counted():
    text = explain(compile_text(TEXT))
    assert "counting distinct ATC classes of level 4: the first 5 characters" in text


def test_issue18_distinct_classes_errors_and_lint():
    bad = check_text(TEXT.replace("ATC level 4", "ATC level 6"))
    assert [d.code for d in bad.errors] == ["E315 bad-atc-level"]
    assert bad.errors[0].line == 4
    diag = check_text(
        TEXT.replace(
            "distinct classes of aht at ATC level 4", "distinct classes of aht at ATC level 4.5"
        )
    )
    assert [d.code for d in diag.errors] == ["E405 not-whole"]
    # aht has 2 classes at level 4 (C09AA, C03AA): 3 can never be reached (W502)
    never = check_text(TEXT.replace("at least 2 distinct classes", "at least 3 distinct classes"))
    assert any("W502" in d.code and "'many'" in d.message for d in never.warnings)
    assert not any("W502" in d.code for d in check_text(TEXT).warnings)


def test_issue18_distinct_classes_only_for_prescriptions_in_the_ir():
    dx = ir.EventSet(ir.Domain.DIAGNOSIS, ir.CodeSetRef("dm"), ir.Window())
    with pytest.raises(ir.IRError, match="only prescriptions count distinct classes"):
        ir.Count(dx, atc_level=3)
    rxs = ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef("x"), ir.Window())
    with pytest.raises(ir.IRError, match="counts nothing else"):
        ir.Count(rxs, distinct_drugs=True, atc_level=3)
    with pytest.raises(ir.IRError, match="1 to 5, not 0"):
        ir.Count(rxs, atc_level=0)


def test_issue18_distinct_classes_same_from_a_snapshot(tmp_path):
    """Snapshots store system and code dictionary-encoded: the classes are the same."""
    from matcher.data.loader import Dataset
    from matcher.engine.evaluate import evaluate
    from matcher.snapshot.ingest import ingest
    from matcher.snapshot.reader import open_snapshot

    tables = {"observations": [], "encounters": [], "diagnoses": []}
    data = DATA | frames(**tables)
    ingest(Dataset.from_frames(**data), tmp_path / "snap")
    study = one_rule(classes(">=", 2, 4), AHT)
    raw = evaluate(study, Dataset.from_frames(**data)).patients.select("patient_id", "r")
    snap = evaluate(study, open_snapshot(tmp_path / "snap")).patients.select("patient_id", "r")
    assert sorted(snap.iter_rows()) == sorted(raw.iter_rows())
    assert sorted(p for p, v in snap.iter_rows() if v) == ["ace_arb", "three"]


def test_issue18_distinct_classes_manual_example_gives_the_documented_table():
    """The ``p4dp`` block of *Distinct classes* in docs/criteria-language.md, run on the four
    patients of its table, gives the table's answers."""
    import re
    from pathlib import Path

    from matcher.data.loader import Dataset
    from matcher.engine.evaluate import evaluate

    manual = Path(__file__).resolve().parents[2] / "docs" / "criteria-language.md"
    section = manual.read_text(encoding="utf-8").split("### Distinct classes (issue 18)")[1]
    block = re.search(r"```p4dp\n(.*?)```", section, re.S).group(1)
    study = compile_text('study "DOC"\nindex date 2024-06-30\n' + block)
    data = frames(
        patients=[patient(p) for p in ("ace_ace", "ace_arb", "three", "cip")],
        prescriptions=[
            rx("ace_ace", "C09AA02"),
            rx("ace_ace", "C09AA05"),
            rx("ace_arb", "C09AA02"),
            rx("ace_arb", "C09CA01"),
            *(rx("three", c) for c in ("C09AA02", "C03AA03", "C07AB07", "C07AB07")),
            rx("cip", "3400930000001", system="cip13"),
            rx("cip", "C09AA02"),
        ],
        diagnoses=[],
        observations=[],
        encounters=[],
    )
    got = evaluate(study, Dataset.from_frames(**data)).patients
    rows = {r[0]: r[1:] for r in got.select("patient_id", "two_classes", "raas_only").iter_rows()}
    assert rows == {
        "ace_ace": (False, True),
        "ace_arb": (True, True),
        "three": (True, False),
        "cip": (False, True),
    }
