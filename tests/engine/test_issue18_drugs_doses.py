"""Issue 18 (drugs): the dose filter of prescriptions, spec tests: boundaries, mass unit
conversion, units that do not convert, missing doses and missing dose columns, DDDs. Every
case also runs through the reference evaluator (``run`` asserts both agree)."""

from __future__ import annotations

import polars as pl
from engine_helpers import D, codeset, frames, one_rule, patient, rule

from criteria_dsl import ir
from matcher.data.loader import Dataset
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate

STATIN = codeset("statin", ("atc", "C10AA05"), ("atc", "C10AA01"))
MET = codeset("met", ("atc", "A10BA02"), ("cip13", "3400930000000"))
DDDS = (("A10BA02", 2.0, "g"),)


JUNE = D(2024, 6, 1)


def rx(pid, dose=None, daily=None, unit="mg", code="C10AA05", system="atc", day=JUNE):
    return {
        "patient_id": pid,
        "date": day,
        "system": system,
        "code": code,
        "dose": dose,
        "daily_dose": daily,
        "dose_unit": unit,
    }


def has_dose(op, value, unit, *, daily=True, codes="statin", ddd=()) -> ir.Predicate:
    condition = ir.DoseCondition(daily, op, ir.Quantity(value, unit), ddd)
    window = ir.Window.relative_to_index(before=ir.Duration(3, ir.TimeUnit.MONTH))
    return ir.Exists(ir.EventSet(ir.Domain.PRESCRIPTION, ir.CodeSetRef(codes), window, condition))


def test_issue18_dose_filter_boundary_and_mass_units():
    data = frames(
        patients=[patient(p) for p in ("at", "below", "grams", "micro", "other_code", "old")],
        prescriptions=[
            rx("at", daily=40.0),
            rx("below", daily=39.9),
            rx("grams", daily=0.04, unit="g"),  # 0.04 g = 40 mg
            rx("micro", daily=40000.0, unit="ug"),
            rx("other_code", daily=80.0, code="C09AA05"),
            rx("old", daily=80.0, day=D(2023, 1, 1)),  # outside the window
        ],
    )
    got = rule(one_rule(has_dose(">=", 40, "mg"), STATIN), data)
    assert got == {
        "at": True,
        "below": False,
        "grams": True,
        "micro": True,
        "other_code": False,
        "old": False,
    }
    strict = rule(one_rule(has_dose(">", 40, "mg"), STATIN), data)
    assert strict["at"] is False and strict["grams"] is False


def test_issue18_dose_filter_unknown_for_missing_dose_or_unconvertible_unit():
    data = frames(
        patients=[patient(p) for p in ("no_dose", "no_unit", "tablet", "volume", "nan", "both")],
        prescriptions=[
            rx("no_dose", daily=None),
            rx("no_unit", daily=80.0, unit=None),
            rx("tablet", daily=2.0, unit="tablet"),
            rx("volume", daily=80.0, unit="mL"),
            rx("nan", daily=float("nan")),
            rx("both", daily=10.0),  # known to fail, and one unknown row
            rx("both", daily=None),
        ],
    )
    got = rule(one_rule(has_dose(">=", 40, "mg"), STATIN), data)
    assert got == {
        "no_dose": None,
        "no_unit": None,
        "tablet": None,
        "volume": None,
        "nan": None,
        "both": None,
    }
    # a known row that satisfies it decides, whatever the unknown rows
    data = frames(
        patients=[patient("sure")],
        prescriptions=[rx("sure", daily=None), rx("sure", daily=40.0)],
    )
    assert rule(one_rule(has_dose(">=", 40, "mg"), STATIN), data) == {"sure": True}
    # 'has no' and counts follow: at least 2 with one known and one unknown is unknown
    count = ir.Compare(ir.Count(has_dose(">=", 40, "mg").events), ">=", ir.Quantity(2))
    assert rule(one_rule(count, STATIN), data) == {"sure": None}


def test_issue18_dose_filter_other_units_compare_only_with_themselves():
    data = frames(
        patients=[patient("iu"), patient("mg")],
        prescriptions=[
            rx("iu", daily=40.0, unit="[iU]", code="C10AA05"),
            rx("mg", daily=40.0, unit="mg"),
        ],
    )
    assert rule(one_rule(has_dose(">=", 40, "[iU]"), STATIN), data) == {"iu": True, "mg": None}


def test_issue18_dose_per_intake_reads_the_dose_column():
    data = frames(
        patients=[patient("intake"), patient("daily_only")],
        prescriptions=[rx("intake", dose=500.0, daily=1000.0), rx("daily_only", daily=1000.0)],
    )
    got = rule(one_rule(has_dose(">=", 500, "mg", daily=False), STATIN), data)
    assert got == {"intake": True, "daily_only": None}
    got = rule(one_rule(has_dose("<", 600, "mg", daily=False), STATIN), data)
    assert got == {"intake": True, "daily_only": None}


def test_issue18_dose_filter_in_ddd():
    data = frames(
        patients=[patient(p) for p in ("one", "half", "mg", "cip", "no_ddd_unit")],
        prescriptions=[
            rx("one", daily=2.0, unit="g", code="A10BA02"),
            rx("half", daily=1000.0, unit="mg", code="A10BA02"),
            rx("mg", daily=2000.0, unit="mg", code="A10BA02"),
            rx("cip", daily=2000.0, unit="mg", code="3400930000000", system="cip13"),
            rx("no_ddd_unit", daily=2.0, unit="tablet", code="A10BA02"),
        ],
    )
    got = rule(one_rule(has_dose(">=", 1, "DDD", codes="met", ddd=DDDS), MET), data)
    assert got == {"one": True, "half": False, "mg": True, "cip": None, "no_ddd_unit": None}
    got = rule(one_rule(has_dose("<", 0.75, "DDD", codes="met", ddd=DDDS), MET), data)
    assert got == {"one": False, "half": True, "mg": False, "cip": None, "no_ddd_unit": None}


def test_issue18_dose_columns_absent_from_the_files(tmp_path):
    """A data directory of today (no dose columns) stays valid: a dose filter is unknown where
    a prescription of the set is in the window, false where there is none."""
    patients = frames(patients=[patient("rx"), patient("none")])["patients"]
    schema = {k: v for k, v in TABLES["prescriptions"].schema().items() if "dose" not in k}
    old_style = pl.DataFrame(
        [{"patient_id": "rx", "date": D(2024, 6, 1), "system": "atc", "code": "C10AA05"}],
        schema={k: schema[k] for k in ("patient_id", "date", "system", "code")},
    )
    for name, frame in (("patients", patients), ("prescriptions", old_style)):
        frame.write_parquet(tmp_path / f"{name}.parquet")
    for name in ("diagnoses", "observations", "encounters"):
        pl.DataFrame(schema=TABLES[name].schema()).write_parquet(tmp_path / f"{name}.parquet")
    from matcher.data.loader import load_dataset

    data = load_dataset(tmp_path)
    assert isinstance(data, Dataset)
    study = one_rule(has_dose(">=", 40, "mg"), STATIN)
    result = evaluate(study, data)
    got = dict(zip(result.patients["patient_id"], result.patients["r"], strict=True))
    assert got == {"rx": None, "none": False}
    assert rule(study, data) == got  # the reference agrees
