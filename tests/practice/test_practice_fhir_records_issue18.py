"""Issue 18 (records): Encounter.class IMP / EMER / AMB / HH / VR → the contract's kinds, and
admissions and emergencies extracted without a practice (they happened outside it)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from practice_csv import minimal_csv_export

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


CCAM_OID = "urn:oid:1.2.250.1.213.2.5"
PROCEDURES = [
    # as record software and Synthea write them: SNOMED CT and CCAM codings, a period
    {"resourceType": "Procedure", "id": "pr1", "status": "completed", "subject": P1,
     "code": {"coding": [{"system": "http://snomed.info/sct", "code": "73761001",
                          "display": "Colonoscopy"}], "text": "Colonoscopy"},
     "performedPeriod": {"start": "2021-03-04T08:00:00+01:00", "end": "2021-03-04T09:00:00+01:00"}},
    {"resourceType": "Procedure", "id": "pr2", "status": "completed", "subject": P1,
     "code": {"coding": [{"system": CCAM_OID, "code": "HFFC018"}]},
     "performedDateTime": "2019-06-15"},
    {"resourceType": "Procedure", "id": "pr3", "status": "not-done", "subject": P1,
     "code": {"coding": [{"system": CCAM_OID, "code": "NEKA020"}]},
     "performedDateTime": "2020-01-01"},
    {"resourceType": "Procedure", "id": "pr4", "status": "completed", "subject": P1,
     "code": {"coding": [{"system": "http://example.org/local", "code": "X1"}]},
     "performedDateTime": "2020-01-01"},
]  # fmt: skip


def test_issue18_fhir_procedures_are_read_with_their_systems_and_problems(tmp_path):
    folder = tmp_path / "fhir"
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(json.dumps(PATIENT) + "\n")
    text = "\n".join(json.dumps(x) for x in PROCEDURES) + "\n"
    (folder / "Procedure.ndjson").write_text(text)
    for batch in (True, False):
        export = read_fhir_export(folder, batch=batch)
        rows = export.events["procedures"].sort("date").select("date", "system", "code").rows()
        assert [(str(d), s, c) for d, s, c in rows] == [
            ("2019-06-15", "ccam", "HFFC018"),
            ("2021-03-04", "snomed", "73761001"),
        ]
        reasons = dict(export.problems.select("resource", "reason").rows())
        assert reasons["Procedure/pr3"] == "status not-done"
        assert reasons["Procedure/pr4"] == "no coding in a recognised system"
        assert export.unknown_systems == {"http://example.org/local": 1}


def test_issue18_csv_export_procedures_file_is_optional(tmp_path):
    from matcher.practice.export_csv import read_csv_export

    folder = minimal_csv_export(tmp_path / "csv")
    assert "procedures" not in read_csv_export(folder).events  # not provided
    (folder / "procedures.csv").write_text(
        "local_id,date,system,code\nL1,2020-05-06,CCAM,deqp003\nL1,2020-05-07,loinc,4548-4\n"
    )
    export = read_csv_export(folder)
    assert export.events["procedures"].select("system", "code").rows() == [("ccam", "deqp003")]
    assert export.problems.filter(pl.col("reason") == "unknown code system").height == 1
