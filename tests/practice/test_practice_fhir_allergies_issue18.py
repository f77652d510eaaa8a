"""Issue 18 (records): the practice kit reads FHIR ``AllergyIntolerance`` (substance from
``code.coding``, ``type`` allergy | intolerance, ``recordedDate`` else ``onsetDateTime``;
refuted and entered-in-error ones reported, not kept) and an optional ``allergies.csv``."""

from __future__ import annotations

import datetime as dt
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
ATC = "http://www.whocc.no/atc"
SCT = "http://snomed.info/sct"


def _allergy(rid: str, coding: dict, **extra: object) -> dict:
    return {"resourceType": "AllergyIntolerance", "id": rid, "patient": P1,
            "code": {"coding": [coding]}, **extra}  # fmt: skip


ALLERGIES = [
    _allergy("a1", {"system": ATC, "code": "J01CA04"}, type="allergy", recordedDate="2020-05-01"),
    _allergy("a2", {"system": ATC, "code": "A10BA02"}, type="intolerance",
             onsetDateTime="2021-01-02T10:00:00+01:00"),
    _allergy("a3", {"system": SCT, "code": "762952008"}, recordedDate="2019-07-07"),  # no type
    _allergy("a4", {"system": ATC, "code": "C10AA01"}, type="allergy", recordedDate="2022-01-01",
             verificationStatus={"coding": [{"code": "refuted"}]}),
    _allergy("a5", {"system": ATC, "code": "C10AA05"}, recordedDate="2022-01-01",
             verificationStatus={"coding": [{"code": "entered-in-error"}]}),
]  # fmt: skip


def _export(folder: Path) -> Path:
    folder.mkdir()
    (folder / "Patient.ndjson").write_text(json.dumps(PATIENT) + "\n")
    text = "\n".join(json.dumps(x) for x in ALLERGIES) + "\n"
    (folder / "AllergyIntolerance.ndjson").write_text(text)
    return folder


def test_issue18_fhir_allergy_intolerance_read_with_kind_and_date(tmp_path):
    folder = _export(tmp_path / "fhir")
    for batch in (True, False):
        export = read_fhir_export(folder, batch=batch)
        rows = export.events["allergies"].sort("date").select("date", "system", "code", "kind")
        assert rows.rows() == [
            (dt.date(2019, 7, 7), "snomed", "762952008", None),
            (dt.date(2020, 5, 1), "atc", "J01CA04", "allergy"),
            (dt.date(2021, 1, 2), "atc", "A10BA02", "intolerance"),
        ], batch
        reasons = export.problems.filter(pl.col("resource").str.starts_with("AllergyIntolerance"))
        assert sorted(reasons["reason"].to_list()) == [
            "status entered-in-error",
            "status refuted",
        ], batch


def test_issue18_fhir_allergies_reach_the_contract_table(tmp_path):
    export = read_fhir_export(_export(tmp_path / "fhir"))
    ids = pl.DataFrame({"local_id": ["L1"], "patient_id": ["pseudo1"]})
    tables, _, _ = _events(export, ids, "PR0001")
    allergies = tables["allergies"].sort("date")
    assert allergies.columns == ["patient_id", "date", "system", "code", "kind"]
    assert allergies["kind"].to_list() == [None, "allergy", "intolerance"]
    assert allergies["patient_id"].unique().to_list() == ["pseudo1"]


def test_issue18_csv_export_allergies_file_is_optional_and_kind_checked(tmp_path):
    from matcher.practice.export_csv import read_csv_export

    folder = minimal_csv_export(tmp_path / "csv")
    assert "allergies" not in read_csv_export(folder).events  # not provided
    (folder / "allergies.csv").write_text(
        "local_id,date,system,code,kind\n"
        "L1,2020-05-06,ATC,J01CA04,Allergy\n"
        "L1,2020-05-07,snomed,762952008,\n"
        "L1,2020-05-08,atc,A10BA02,severe\n"
        "L1,2020-05-09,icd10,T88.7,allergy\n"
    )
    export = read_csv_export(folder)
    kept = export.events["allergies"].select("system", "code", "kind").rows()
    assert kept == [("atc", "J01CA04", "allergy"), ("snomed", "762952008", None)]
    reasons = sorted(export.problems["reason"].to_list())
    assert reasons == [
        "column 'kind': not allergy or intolerance (or empty)",
        "unknown code system",
    ]
