"""Issue 18 (drugs): doses in practice exports: FHIR ``dosageInstruction`` read the same way
by the batch and the resource-by-resource readers, the CSV dose columns, and the synthetic
exports carrying the generated doses."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from matcher.practice.export_csv import read_csv_export
from matcher.practice.export_fhir import read_fhir_export

UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "male",
    "birthDate": "1950-02-03",
    "identifier": [
        {"type": {"coding": [{"code": "MR"}]}, "value": "L1"},
        {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "150027510812345"},
    ],
}


def _dose(value, code="mg", system=UCUM, frequency=None, period=None, unit="d"):
    quantity = {"value": value, "unit": code, "system": system, "code": code}
    instruction: dict = {"doseAndRate": [{"doseQuantity": quantity}]}
    if period is not None:
        repeat = {"period": period, "periodUnit": unit}
        if frequency is not None:
            repeat["frequency"] = frequency
        instruction["timing"] = {"repeat": repeat}
    return [instruction]


def _request(rid: str, dosage) -> dict:
    res = {
        "resourceType": "MedicationRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-03-01",
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": "C10AA05"}]},
    }
    return res | ({"dosageInstruction": dosage} if dosage is not None else {})


CASES = [
    (_dose(20, frequency=2, period=1), (20.0, 40.0, "mg")),
    (_dose(70, period=1, unit="wk"), (70.0, 10.0, "mg")),  # frequency defaults to 1
    (_dose(10, frequency=1, period=12, unit="h"), (10.0, 20.0, "mg")),
    (_dose(0.5, code="g"), (0.5, None, "g")),  # no timing: no daily dose
    (_dose(5, code="tablets", system=None, frequency=1, period=1), (5.0, 5.0, "tablets")),
    (_dose(20, frequency=1, period=1) * 2, (None, None, None)),  # two instructions
    (None, (None, None, None)),
    ([{"text": "one a day"}], (None, None, None)),
]


def _export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(json.dumps(PATIENT) + "\n")
    lines = [json.dumps(_request(f"m{i}", dosage)) for i, (dosage, _) in enumerate(CASES)]
    (folder / "MedicationRequest.ndjson").write_text("\n".join(lines) + "\n")
    return folder


def test_issue18_fhir_dosage_instruction_batch_and_one_by_one(tmp_path: Path):
    path = _export(tmp_path / "fhir")
    batch, single = read_fhir_export(path), read_fhir_export(path, batch=False)
    rows = batch.events["prescriptions"].sort("line")
    assert rows.equals(single.events["prescriptions"].sort("line"))
    assert rows.select("dose", "daily_dose", "dose_unit").rows() == [c[1] for c in CASES]


def test_issue18_csv_export_dose_columns(tmp_path: Path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "patients.csv").write_text(
        "local_id,national_id,family_name,given_names,birth_date,sex\n"
        "L1,150027510812345,Doe,Jane,1950-02-03,F\n"
    )
    (folder / "prescriptions.csv").write_text(
        "local_id,date,system,code,dose,daily_dose,dose_unit\n"
        "L1,2024-03-01,atc,C10AA05,20,40,mg\n"
        "L1,2024-04-01,atc,C10AA05,,,\n"
        "L1,2024-05-01,atc,C10AA05,twenty,40,mg\n"
    )
    (folder / "diagnoses.csv").write_text("local_id,date,system,code\n")
    (folder / "observations.csv").write_text("local_id,date,system,code,value,unit\n")
    (folder / "encounters.csv").write_text("local_id,date,kind\n")
    export = read_csv_export(folder)
    rows = export.events["prescriptions"].sort("date")
    assert rows.select("dose", "daily_dose", "dose_unit").rows() == [
        (20.0, 40.0, "mg"),
        (None, None, None),
    ]
    problems = export.problems.filter(pl.col("reason").str.contains("dose"))
    assert problems.height == 1 and "column 'dose'" in problems["reason"][0]


def test_issue18_synthetic_fhir_exports_carry_the_generated_doses(practices):
    root = next(p for p in sorted(practices.root.iterdir()) if p.is_dir())
    fhir = read_fhir_export(root / "fhir")
    rows = fhir.events["prescriptions"]
    dosed = rows.filter(pl.col("dose").is_not_null())
    assert dosed.height > 0.8 * rows.filter(pl.col("code") != "C09DX04").height
    assert set(dosed["dose_unit"]) <= {"mg", "ug", "[iU]"}
    weekly = dosed.filter(pl.col("code") == "A10BJ06")
    if weekly.height:
        assert (weekly["daily_dose"] - weekly["dose"] / 7).abs().max() < 1e-12


@pytest.mark.parametrize("fmt", ["csv", "fhir"])
def test_issue18_synthetic_exports_same_doses_in_both_formats(practices, fmt):
    root = next(p for p in sorted(practices.root.iterdir()) if p.is_dir())
    read = read_csv_export if fmt == "csv" else read_fhir_export
    rows = read(root / fmt).events["prescriptions"]
    assert {"dose", "daily_dose", "dose_unit"} <= set(rows.columns)
    assert rows["daily_dose"].drop_nulls().len() > 0
