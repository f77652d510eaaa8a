"""Issue 13, practice kit: FHIR R4 Bulk Data NDJSON exports (real-shaped fixtures, Synthea)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from test_practice_extract import _keys, _same_rows

from matcher.cli import main
from matcher.data.validate import validate_dataset
from matcher.practice.export import ExportError, read_export
from matcher.practice.extract import extract
from matcher.practice.keys import load_key

ICD = "http://hl7.org/fhir/sid/icd-10"
ICPC = "http://hl7.org/fhir/sid/icpc-2"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


def test_issue13_fhir_extract_gives_back_the_practice_rows_and_tokens(tmp_path, practices) -> None:
    key, authority = _keys(practices, "PR0002")
    out = tmp_path / "up"
    extract(practices.export("PR0002", "fhir"), key=key, authority=authority, out=out)
    _same_rows(practices, out, "PR0002", transferred=5)
    assert validate_dataset(out).ok


def test_issue13_csv_and_fhir_give_the_same_pseudonyms(tmp_path, practices) -> None:
    key, authority = _keys(practices)
    for fmt in ("csv", "fhir"):
        extract(practices.export("PR0001", fmt), key=key, authority=authority, out=tmp_path / fmt)
    a, b = (
        pl.read_parquet(tmp_path / f / "patients.parquet").sort("patient_id")
        for f in ("csv", "fhir")
    )
    assert a.equals(b)


def test_issue13_a_patient_exported_by_two_practices_gets_one_pseudonym(tmp_path, practices):
    authority = load_key(practices.authority_path, "authority")
    uploads = {}
    for practice, fmt in (("PR0001", "csv"), ("PR0002", "fhir")):
        key = load_key(practices.key_path(practice), "practice")
        extract(practices.export(practice, fmt), key=key, authority=authority, out=tmp_path / fmt)
        uploads[practice] = pl.read_parquet(tmp_path / fmt / "patients.parquet")
    exports = {
        p: pl.read_csv(practices.export(p, "csv") / "patients.csv", infer_schema=False)
        for p in uploads
    }
    shared = set(exports["PR0001"]["national_id"]) & set(exports["PR0002"]["national_id"])
    assert len(shared) == 5
    linked = uploads["PR0001"].join(uploads["PR0002"], on="patient_id", suffix="_b")
    assert linked.height == 5  # one pseudonym per person, whatever the practice or format
    assert (linked["practice_token"] != linked["practice_token_b"]).all()
    assert (linked["birth_year"] == linked["birth_year_b"]).all()
    assert linked["registered_to"].is_not_null().all()
    assert linked["registered_to_b"].is_null().all()


def _patient(pid: str, nir: str | None = "184127510812345", **extra) -> dict:
    identifiers = [
        {"type": {"coding": [{"code": "MR"}]}, "value": f"L{pid}"},
        {"system": "http://hospital.example/id", "value": "H-77"},
    ]
    if nir is not None:
        identifiers.append({"system": "urn:oid:1.2.250.1.213.1.4.8", "value": nir})
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": identifiers,
        "name": [
            {"use": "maiden", "family": "Durand", "given": ["Anne"]},
            {"use": "official", "family": "Martin", "given": ["Anne", "Marie"]},
        ],
        "gender": "female",
        "birthDate": "1984-12-03",
        **extra,
    }


def _write(folder: Path, name: str, resources: list[dict | str]) -> None:
    folder.mkdir(exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in resources]
    (folder / name).write_text("\n".join(lines) + "\n")


@pytest.fixture
def fhir_export(tmp_path: Path) -> Path:
    """A real-shaped export: several codings, missing codes, unknown systems, units."""
    d = tmp_path / "bulk"
    subject = {"reference": "Patient/p1"}
    _write(
        d,
        "Patient.000.ndjson",
        [
            _patient("p1"),
            _patient("p2", nir=None),  # no national identifier
            _patient("p3", nir="2 90 01 2A 004 123 45", birthDate="1990-01"),
            _patient("p4", nir="290012A00412399", birthDate="19xx"),
            _patient("p5", nir="290012A00412398", deceasedDateTime="yesterday"),
        ],
    )
    conditions = [
        {  # ICD-10 (undotted) and ICPC-2 and SNOMED: two rows, SNOMED counted
            "resourceType": "Condition",
            "id": "c1",
            "code": {
                "coding": [
                    {"system": SNOMED, "code": "44054006"},
                    {"system": ICD, "code": "E119"},
                    {"system": ICPC, "code": "T90"},
                ]
            },
            "subject": subject,
            "recordedDate": "2021-05-04T10:00:00+02:00",
        },
        {"resourceType": "Condition", "id": "c2", "code": {"coding": [{"system": SNOMED,
         "code": "38341003"}]}, "subject": subject, "onsetDateTime": "2020-01-01"},
        {"resourceType": "Condition", "id": "c3", "code": {"text": "free text only"},
         "subject": subject, "recordedDate": "2020-01-01"},
        {"resourceType": "Condition", "id": "c4", "code": {"coding": [{"system": ICD,
         "code": "I10"}]}, "subject": subject, "recordedDate": "2020-01-01",
         "verificationStatus": {"coding": [{"code": "entered-in-error"}]}},
        {"resourceType": "Condition", "id": "c5", "code": {"coding": [{"system": ICD,
         "code": "I10"}]}, "subject": {"reference": "Patient/nobody"},
         "recordedDate": "2020-01-01"},
        {"resourceType": "Condition", "id": "c6", "code": {"coding": [{"system": ICD,
         "code": "I10"}]}, "subject": subject},
    ]  # fmt: skip
    _write(d, "Condition.000.ndjson", conditions)
    observations = [
        {"resourceType": "Observation", "id": "o1", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "29463-7"}]}, "subject": subject,
         "effectiveDateTime": "2022-02-02", "valueQuantity": {"value": 154.0, "unit": "lbs",
         "system": UCUM, "code": "[lb_av]"}},
        {"resourceType": "Observation", "id": "o2", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "85354-9"}]}, "subject": subject,
         "effectiveDateTime": "2022-02-02",
         "component": [
             {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
              "valueQuantity": {"value": 142, "unit": "mmHg"}},
             {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
              "valueQuantity": {"value": 88, "system": UCUM, "code": "mm[Hg]"}}]},
        {"resourceType": "Observation", "id": "o3", "status": "final",
         "code": {"coding": [{"system": LOINC, "code": "4548-4"}]}, "subject": subject,
         "effectiveDateTime": "2022-03-01", "valueQuantity": {"value": 8.1, "unit": "%",
         "system": UCUM, "code": "%"}},
    ]  # fmt: skip
    _write(d, "Observation.000.ndjson", observations)
    medications = [
        {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
         "medicationCodeableConcept": {"coding": [
             {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"},
             {"system": "http://www.whocc.no/atc", "code": "A10BA02"}]},
         "subject": subject, "authoredOn": "2022-01-10",
         "dispenseRequest": {"expectedSupplyDuration": {"value": 3, "unit": "months",
                             "system": UCUM, "code": "mo"}}},
        {"resourceType": "MedicationStatement", "id": "m2", "status": "active",
         "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc",
                                                   "code": "C09AA05"}]},
         "subject": subject, "effectivePeriod": {"start": "2021-01-01", "end": "2021-01-31"}},
        {"resourceType": "MedicationRequest", "id": "m3", "status": "active",
         "medicationReference": {"reference": "Medication/x"}, "subject": subject,
         "authoredOn": "2022-01-10"},
    ]  # fmt: skip
    _write(d, "MedicationRequest.000.ndjson", medications)
    encounters = [
        {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "VR"},
         "subject": subject, "period": {"start": "2022-02-02T09:00:00+01:00"}},
        {"resourceType": "Encounter", "id": "e2", "status": "finished",
         "class": {"code": "AMB"}, "subject": {"reference": "Patient/p3"},
         "period": {"start": "2022-02-03"}},
        {"resourceType": "Immunization", "id": "x1"},
    ]  # fmt: skip
    _write(d, "Encounter.000.ndjson", encounters)
    return d


def test_issue13_fhir_fixture_codings_units_and_reported_resources(tmp_path, fhir_export) -> None:
    export = read_export(fhir_export)
    assert export.source_format == "fhir"
    assert sorted(export.patients["local_id"].to_list()) == ["Lp1", "Lp3"]
    p1 = export.patients.filter(pl.col("local_id") == "Lp1").row(0, named=True)
    assert (p1["family_name"], p1["given_names"]) == ("Martin", "Anne Marie")
    key = load_key(_make_key(tmp_path, "practice"), "practice")
    authority = load_key(_make_key(tmp_path, "authority"), "authority")
    extract(fhir_export, key=key, authority=authority, out=tmp_path / "up")
    up = tmp_path / "up"
    dx = pl.read_parquet(up / "diagnoses.parquet")
    assert sorted(zip(dx["system"], dx["code"], strict=True)) == [
        ("icd10", "E11.9"),
        ("icpc2", "T90"),
    ]
    obs = pl.read_parquet(up / "observations.parquet").sort("code")
    assert obs["code"].to_list() == ["29463-7", "4548-4", "8462-4", "8480-6"]
    assert obs["unit"].to_list() == ["kg", "%", "mm[Hg]", "mm[Hg]"]
    assert obs["value"][0] == pytest.approx(154.0 * 0.45359237)
    rx = pl.read_parquet(up / "prescriptions.parquet").sort("code")
    assert rx["code"].to_list() == ["A10BA02", "C09AA05"]
    assert rx["duration_days"].to_list() == [90, 30]
    enc = pl.read_parquet(up / "encounters.parquet").sort("date")
    assert enc["kind"].to_list() == ["tele", "office"]
    patients = pl.read_parquet(up / "patients.parquet").sort("birth_year")
    assert patients.select("birth_year", "birth_month").rows() == [(1984, 12), (1990, 1)]
    report = json.loads((tmp_path / "up.extract-report.json").read_text())
    rows = {(r["file"], r["line"]): r for r in report["not_converted"]["rows"]}
    assert rows[("Patient.000.ndjson", 2)]["reason"] == "no national identifier"
    assert "p2" not in json.dumps(rows[("Patient.000.ndjson", 2)])  # no patient id
    cond = "Condition.000.ndjson"
    assert rows[(cond, 2)]["reason"] == "no coding in a recognised system"
    assert rows[(cond, 2)]["detail"] == SNOMED and rows[(cond, 2)]["resource"] == "Condition/c2"
    assert rows[(cond, 3)]["reason"] == "no code"
    assert rows[(cond, 4)]["reason"] == "status entered-in-error"
    assert rows[(cond, 5)]["reason"] == "patient not in the export or not converted"
    assert rows[(cond, 6)]["reason"] == "no date"
    med = "MedicationRequest.000.ndjson"
    assert rows[(med, 3)]["reason"] == "medication given by reference, not by code"
    assert rows[("Patient.000.ndjson", 4)]["reason"].startswith("birthDate: not a plausible")
    assert rows[("Patient.000.ndjson", 5)]["reason"] == "deceasedDateTime: not a date"
    assert report["not_converted"]["total"] == len(rows) == 9
    assert report["unknown_systems"] == {
        SNOMED: 2,
        "http://www.nlm.nih.gov/research/umls/rxnorm": 1,
    }
    assert report["skipped_resource_types"] == {
        "Immunization": 1
    }  # Procedure is read since issue 18
    assert report["units"]["converted"] == 1 and report["units"]["respelled"] == 1


def test_issue13_extract_cli_prints_rows_and_reasons(tmp_path, fhir_export) -> None:
    out = tmp_path / "up"
    args = ["practice", "extract", str(fhir_export), "--out", str(out)]
    args += ["--key", str(_make_key(tmp_path, "practice"))]
    args += ["--authority-key", str(_make_key(tmp_path, "authority"))]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Wrote upload" in result.output and "patients 2" in result.output
    assert "9 rows not converted" in result.output and "up.extract-report.json" in result.output
    assert "no national identifier" in result.output
    assert "unknown code system http://snomed.info/sct: 2 codings" in result.output
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 1 and "already exists" in again.output


def _make_key(tmp_path: Path, kind: str) -> Path:
    from matcher.practice.keys import create_authority_key, create_practice_key

    path = tmp_path / f"{kind}.key"
    if not path.exists():
        if kind == "practice":
            create_practice_key(path, "PR0009", "C02")
        else:
            create_authority_key(path)
    return path


def test_issue13_truncated_ndjson_is_one_error_with_its_line(tmp_path, fhir_export) -> None:
    text = (fhir_export / "Observation.000.ndjson").read_text()
    (fhir_export / "Observation.000.ndjson").write_text(text[: len(text) - 40])
    args = ["practice", "extract", str(fhir_export), "--out", str(tmp_path / "up")]
    args += ["--key", str(_make_key(tmp_path, "practice"))]
    args += ["--authority-key", str(_make_key(tmp_path, "authority"))]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert "Observation.000.ndjson:3: not a JSON resource" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "up").exists()
    with pytest.raises(ExportError, match="truncated"):
        read_export(fhir_export)


def test_issue13_format_detection_and_override(tmp_path, fhir_export) -> None:
    with pytest.raises(ExportError, match="neither a CSV export"):
        read_export(_empty(tmp_path))
    (fhir_export / "patients.csv").write_text("local_id\n")
    with pytest.raises(ExportError, match="pass --format"):
        read_export(fhir_export)
    assert read_export(fhir_export, "fhir").source_format == "fhir"


def _empty(tmp_path: Path) -> Path:
    d = tmp_path / "empty"
    d.mkdir()
    return d


def test_issue13_synthea_bulk_export_unknown_systems_reported(tmp_path, shared_data) -> None:
    """The real Synthea export codes in SNOMED and RxNorm: reported, never silently dropped."""
    source = shared_data / "fhir_bulk_synthea10"
    key = load_key(_make_key(tmp_path, "practice"), "practice")
    authority = load_key(_make_key(tmp_path, "authority"), "authority")
    summary = extract(source, key=key, authority=authority, out=tmp_path / "up")
    lines = {
        p.name: sum(1 for line in p.read_text().splitlines() if line.strip())
        for p in source.glob("*.ndjson")
    }
    assert summary.rows["patients"] == lines["Patient.000.ndjson"]
    assert summary.rows["encounters"] == lines["Encounter.000.ndjson"]
    report = json.loads((tmp_path / "up.extract-report.json").read_text())
    assert report["unknown_systems"]["http://snomed.info/sct"] >= lines["Condition.000.ndjson"]
    assert report["unknown_systems"]["http://www.nlm.nih.gov/research/umls/rxnorm"] > 0
    not_converted = report["not_converted"]
    assert not_converted["total"] == (
        lines["Condition.000.ndjson"] + lines["MedicationRequest.000.ndjson"]
    )
    assert not_converted["total"] == len(not_converted["rows"])
    # every direct identifier is gone: SSNs, names, record numbers
    patients = [json.loads(line) for line in (source / "Patient.000.ndjson").open()]
    files = [*(tmp_path / "up").iterdir(), tmp_path / "up.extract-report.json"]
    blob = b"".join(p.read_bytes() for p in files)
    for p in patients:
        assert p["id"].encode() not in blob
        assert p["name"][0]["family"].encode() not in blob
        for ident in p["identifier"]:
            assert ident["value"].encode() not in blob
    assert validate_dataset(tmp_path / "up").ok
