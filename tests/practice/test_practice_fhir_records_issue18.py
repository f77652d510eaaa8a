"""Issue 18 (records): Encounter.class IMP / EMER / AMB / HH / VR → the contract's kinds, and
admissions and emergencies extracted without a practice (they happened outside it)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from matcher.practice.export_fhir import read_fhir_export
from matcher.practice.extract import _events

P1 = {"reference": "Patient/p1"}
PATIENT = {
    "resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-02-03",
    "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "L1"},
                   {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "250027510812345"}],
}  # fmt: skip
CLASSES = {"IMP": "admission", "ACUTE": "admission", "EMER": "emergency", "AMB": "office"}
CLASSES |= {"HH": "home", "VR": "tele", "XYZ": "xyz"}


def _export(folder: Path) -> Path:
    folder.mkdir()
    lines = [PATIENT] + [
        {"resourceType": "Encounter", "id": f"e{i}", "status": "finished",
         "class": {"code": c}, "subject": P1, "period": {"start": f"2022-02-{i + 1:02d}"}}
        for i, c in enumerate(CLASSES)
    ]  # fmt: skip
    (folder / "Patient.ndjson").write_text(json.dumps(lines[0]) + "\n")
    text = "\n".join(json.dumps(x) for x in lines[1:]) + "\n"
    (folder / "Encounter.ndjson").write_text(text)
    return folder


def test_issue18_encounter_class_maps_to_kinds_in_both_readers(tmp_path):
    folder = _export(tmp_path / "fhir")
    for batch in (True, False):
        export = read_fhir_export(folder, batch=batch)
        kinds = export.events["encounters"].sort("date")["kind"].to_list()
        assert kinds == list(CLASSES.values()), batch


def test_issue18_admissions_and_emergencies_have_no_practice_after_extraction(tmp_path):
    export = read_fhir_export(_export(tmp_path / "fhir"))
    ids = pl.DataFrame({"local_id": ["L1"], "patient_id": ["pseudo1"]})
    tables, _, _ = _events(export, ids, "PR0001")
    encounters = tables["encounters"].sort("date")
    outside = encounters.filter(pl.col("kind").is_in(["admission", "emergency"]))
    assert outside.height == 3 and outside["practice_id"].null_count() == 3
    inside = encounters.filter(~pl.col("kind").is_in(["admission", "emergency"]))
    assert inside["practice_id"].to_list() == ["PR0001"] * 4
