"""Issue 13, item 6: the FHIR reader reads whole files of events at once (Polars), and gives
exactly the export the resource-by-resource reader gives: rows, problems, unknown systems."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matcher.practice.export import Export
from matcher.practice.export_fhir import read_fhir_export
from matcher.practice.export_fhir_batch import read_events_file

ICD = "http://hl7.org/fhir/sid/icd-10"
ICPC = "http://hl7.org/fhir/sid/icpc-2"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"


def _same(a: Export, b: Export) -> None:
    assert a.patients.equals(b.patients)
    assert a.events.keys() == b.events.keys()
    for table in a.events:
        assert a.events[table].equals(b.events[table]), table
    assert a.problems.equals(b.problems)
    assert a.unknown_systems == b.unknown_systems
    assert a.skipped_resources == b.skipped_resources


def _both(path: Path) -> tuple[Export, Export]:
    return read_fhir_export(path), read_fhir_export(path, batch=False)


def _write(folder: Path, name: str, lines: list[dict | str]) -> Path:
    folder.mkdir(exist_ok=True)
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    (folder / name).write_text(text)
    return folder / name


def _coded(*codings: tuple[str | None, object]) -> dict:
    return {"coding": [{"system": s, "code": c} if s else {"code": c} for s, c in codings]}


P1 = {"reference": "Patient/p1"}
PATIENT = {
    "resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-02-03",
    "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": "L1"},
                   {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "150027510812345"}],
}  # fmt: skip
ODD_EVENTS = {
    "Condition.ndjson": [
        {"resourceType": "Condition", "id": "c1", "subject": P1,
         "recordedDate": "2021-05-04T10:00", "text": {"status": "generated", "div": "<div/>"},
         "code": _coded((SNOMED, "1"), (ICD, "E119"), (ICPC, "T90"), (ICD, "E10"),
                        (ICD + "/", "I10"))},
        {"resourceType": "Condition", "id": "c2", "subject": P1,
         "onsetPeriod": {"start": "2020-01"},
         "code": _coded((SNOMED, "1"), (None, "x"), (SNOMED, "2"))},
        {"resourceType": "Condition", "id": "c3", "subject": P1, "code": {"text": "text only"},
         "onsetDateTime": "", "recordedDate": "2020-01-01"},
        {"resourceType": "Condition", "subject": P1, "recordedDate": "2020-01-01",
         "code": _coded((ICD, " "), (ICD, None))},
        {"resourceType": "Condition", "id": "c5", "subject": P1, "recordedDate": "2020-01-01",
         "status": "", "verificationStatus": {"coding": [{"code": "refuted"}]},
         "code": _coded((ICD, "I10"))},
        {"resourceType": "Condition", "id": "c6", "subject": {"reference": "urn:uuid:p1"},
         "recordedDate": "2020-01-01", "code": _coded((ICD, "I10"))},
        {"resourceType": "Condition", "id": "c7", "subject": {"reference": "Patient/p1/_history/2"},
         "recordedDate": "2020-01-01", "code": _coded((ICD, "I10"))},
        {"resourceType": "Condition", "id": "c8", "subject": P1, "code": _coded((ICD, "I10"))},
        {"resourceType": "Condition", "id": "c9", "code": _coded((ICD, "I10"))},
        {"resourceType": "Condition", "id": "c10", "subject": {"reference": "Patient/ghost"},
         "recordedDate": "2020-01-01", "code": _coded((ICD, "I10"))},
    ],
    "Observation.ndjson": [
        {"resourceType": "Observation", "id": "o1", "status": "final", "subject": P1,
         "effectiveDateTime": "2022-02-02", "code": _coded((LOINC, "85354-9")),
         "component": [
             {"code": _coded((LOINC, "8480-6")), "valueQuantity": {"value": 142, "unit": "mmHg"}},
             {"code": _coded((SNOMED, "9")), "valueQuantity": {"value": 1}},
             {"valueQuantity": {"value": 88, "system": UCUM, "code": "mm[Hg]"}},
             {"code": _coded((LOINC, "8462-4")), "valueQuantity": {"value": 88, "system": UCUM}},
         ]},
        {"resourceType": "Observation", "id": "o2", "status": "final", "subject": P1,
         "effectivePeriod": {"start": "2022-03-01T08:00:00Z"}, "code": _coded((LOINC, "4548-4")),
         "valueQuantity": {"value": 8.1, "unit": "%", "system": UCUM, "code": "%"},
         "component": [{"code": _coded((LOINC, "x")), "valueQuantity": {"value": 2.5}}]},
        {"resourceType": "Observation", "id": "o3", "status": "final", "subject": P1,
         "issued": "2022-03-01T08:00:00Z", "code": _coded((LOINC, "2345-7")),
         "valueCodeableConcept": _coded((SNOMED, "pos")), "component": []},
        {"resourceType": "Observation", "id": "o4", "status": "entered-in-error", "subject": P1,
         "effectiveDateTime": "2022-02-02", "code": _coded((SNOMED, "counted?"))},
        {"resourceType": "Observation", "id": "o5", "status": "final", "subject": P1,
         "effectiveDateTime": "2022-02-02", "code": {}, "valueQuantity": {"value": 3}},
        {"resourceType": "Observation", "id": "o6", "status": "final", "subject": P1,
         "effectiveDateTime": "2022-02", "code": _coded((LOINC, "29463-7")),
         "valueQuantity": {"value": 70, "unit": ""}},
    ],
    "MedicationRequest.ndjson": [
        {"resourceType": "MedicationRequest", "id": "m1", "subject": P1, "authoredOn": "2022-01-10",
         "medicationCodeableConcept": _coded((SNOMED, "1"), (ATC, "a10ba02")),
         "dispenseRequest": {"expectedSupplyDuration": {"value": 2.5, "unit": "days"}}},
        {"resourceType": "MedicationStatement", "id": "m2", "subject": P1,
         "effectivePeriod": {"start": "2021-01-01", "end": "2021-01-31T10:00"},
         "medicationCodeableConcept": _coded((ATC, "C09AA05"))},
        {"resourceType": "MedicationStatement", "id": "m3", "subject": P1,
         "dateAsserted": "2021-02-01", "effectivePeriod": {"start": "2021-01-01"},
         "medicationCodeableConcept": _coded((ATC, "C09AA05"))},
        {"resourceType": "MedicationRequest", "id": "m4", "subject": P1, "authoredOn": "2022-01-10",
         "medicationReference": {"reference": "Medication/x"}},
        {"resourceType": "MedicationRequest", "id": "m5", "subject": P1, "authoredOn": "2022-01-10",
         "medicationCodeableConcept": {},
         "dispenseRequest": {"expectedSupplyDuration": {"value": 4, "code": "wk"}}},
        {"resourceType": "MedicationRequest", "id": "m6", "subject": P1, "authoredOn": "2022-01-10",
         "medicationCodeableConcept": _coded((ATC, "A10BA02")),
         "dispenseRequest": {"expectedSupplyDuration": {"value": -3, "unit": "fortnight"}}},
    ],
    "Encounter.ndjson": [
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "VR"},
         "subject": P1, "period": {"start": "2022-02-02T09:00:00+01:00"}},
        {"resourceType": "Encounter", "id": "e2", "class": {"code": "IMP"}, "subject": P1,
         "period": {"start": "2022-02-03"}},
        {"resourceType": "Encounter", "id": "e3", "class": {}, "subject": P1,
         "period": {"start": "2022-02-04"}},
        {"resourceType": "Encounter", "id": "e4", "status": "cancelled", "subject": P1,
         "period": {"start": "2022-02-05"}},
        {"resourceType": "Encounter", "id": "e5", "subject": P1, "period": {"end": "2022-02-05"}},
    ],
}  # fmt: skip


def test_issue13_item6_batch_reader_same_rows_problems_and_systems_on_odd_resources(tmp_path):
    folder = tmp_path / "odd"
    _write(folder, "Patient.ndjson", [PATIENT])
    for name, lines in ODD_EVENTS.items():
        file = _write(folder, name, lines)
        assert read_events_file(file.read_bytes(), name) is not None, name  # read at once
    fast, slow = _both(folder)
    _same(fast, slow)
    heights = {table: frame.height for table, frame in fast.events.items()}
    assert heights == {
        "diagnoses": 3,
        "prescriptions": 4,
        "observations": 5,
        "encounters": 3,
        "procedures": 0,
        "allergies": 0,
    }
    assert fast.problems.height == 16
    assert fast.unknown_systems == {SNOMED: 5, "(no system)": 1}


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("numeric code", '{"resourceType": "Condition", "id": "n", "subject": {"reference":'
         ' "Patient/p1"}, "recordedDate": "2020-01-01", "code": {"coding": [{"system":'
         ' "http://hl7.org/fhir/sid/icd-10", "code": 110}]}}'),
        ("string value", '{"resourceType": "Observation", "id": "s", "subject": {"reference":'
         ' "Patient/p1"}, "issued": "2020-01-01", "code": {"coding": [{"system":'
         ' "http://loinc.org", "code": "1-1"}]}, "valueQuantity": {"value": "7"}}'),
        ("object reference", '{"resourceType": "Encounter", "id": "o", "subject": {"reference":'
         ' {"x": 1}}, "period": {"start": "2020-01-01"}}'),
        ("a patient inside", json.dumps(PATIENT)),
        ("blank line", ""),
    ],
)  # fmt: skip
def test_issue13_item6_files_the_batch_cannot_read_exactly_are_read_resource_by_resource(
    tmp_path, name, line
):
    folder = tmp_path / "mixed"
    _write(folder, "Patient.ndjson", [PATIENT])
    first = ODD_EVENTS["Encounter.ndjson"][0]
    file = _write(folder, "Events.ndjson", [first, line, first])
    assert read_events_file(file.read_bytes(), file.name) is None, name
    _same(*_both(folder))


def test_issue13_item6_batch_reader_same_export_as_resource_by_resource(practices):
    for practice in ("PR0001", "PR0002"):
        fast, slow = _both(practices.export(practice, "fhir"))
        _same(fast, slow)
        assert fast.events["observations"].height > 1000


def test_issue13_item6_batch_reader_same_export_on_synthea(shared_data):
    fast, slow = _both(shared_data / "fhir_bulk_synthea10")
    _same(fast, slow)
    assert fast.unknown_systems  # SNOMED and RxNorm, counted by both
