"""Issue 18 (status): FHIR Observations with coded answers (US Core smoking status, IPS
pregnancy status, breastfeeding status) → ``observations.value_code``, read identically by the
batch and the resource-by-resource readers; the synthetic FHIR writer writes them back."""

from __future__ import annotations

import json
from pathlib import Path

from test_practice_fhir_batch import LOINC, PATIENT, SNOMED, UCUM, _both, _same, _write

from matcher.practice.fhir_status import SOCIAL_HISTORY
from matcher.synth.practice_exports import _fhir_event

P1 = {"reference": "Patient/p1"}

US_CORE_SMOKING = {  # the shape of the US Core smoking status example
    "resourceType": "Observation", "id": "some-day-smoker", "status": "final",
    "category": [SOCIAL_HISTORY],
    "code": {"coding": [{"system": LOINC, "code": "72166-2",
                         "display": "Tobacco smoking status"}]},
    "subject": P1, "effectiveDateTime": "2016-03-18T05:27:04Z",
    "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "428041000124106",
                                         "display": "Current some day smoker"}]},
}  # fmt: skip
PACK_YEARS = {
    "resourceType": "Observation", "id": "py", "status": "final", "subject": P1,
    "code": {"coding": [{"system": LOINC, "code": "8664-5"}]},
    "effectiveDateTime": "2016-03-18",
    "valueQuantity": {"value": 26, "unit": "pack-years", "system": UCUM, "code": "{pack-years}"},
}  # fmt: skip
IPS_PREGNANCY = {
    "resourceType": "Observation", "id": "preg", "status": "final", "subject": P1,
    "code": {"coding": [{"system": LOINC, "code": "82810-3", "display": "Pregnancy status"}]},
    "effectiveDateTime": "2020-01-10",
    "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "77386006"}]},
}  # fmt: skip
BREASTFEEDING = {
    "resourceType": "Observation", "id": "bf", "status": "final", "subject": P1,
    "code": {"coding": [{"system": LOINC, "code": "63895-7"}]},
    "effectiveDateTime": "2024-01-01",
    "valueCodeableConcept": {"coding": [{"system": LOINC, "code": "LA29252-6",
                                         "display": "Currently breastfeeding"}]},
}  # fmt: skip
OTHER_SYSTEM_ANSWER = {
    "resourceType": "Observation", "id": "x", "status": "final", "subject": P1,
    "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
    "effectiveDateTime": "2024-01-01",
    "valueCodeableConcept": {"coding": [{"system": "urn:local", "code": "SMK"}],
                             "text": "smoker"},
}  # fmt: skip


def test_issue18_fhir_coded_answers_become_value_code_in_both_readers(tmp_path: Path):
    folder = tmp_path / "export"
    _write(folder, "Patient.ndjson", [PATIENT])
    _write(
        folder,
        "Observation.ndjson",
        [US_CORE_SMOKING, PACK_YEARS, IPS_PREGNANCY, BREASTFEEDING, OTHER_SYSTEM_ANSWER],
    )
    batch, single = _both(folder)
    _same(batch, single)
    rows = batch.events["observations"].select("code", "value", "unit", "value_code").rows()
    assert rows == [
        ("72166-2", None, None, "428041000124106"),
        ("8664-5", 26.0, "{pack-years}", None),
        ("82810-3", None, None, "77386006"),
        ("63895-7", None, None, "LA29252-6"),
        ("72166-2", None, None, None),  # an answer in an unknown system: none
    ]


def test_issue18_synthetic_fhir_writer_writes_us_core_coded_answers():
    row = {"local_id": "L1", "date": "2023-01-01", "system": "loinc", "code": "72166-2",
           "value": None, "unit": None, "value_code": "8517006"}  # fmt: skip
    res = _fhir_event("observations", 1, row)
    assert res["category"] == [SOCIAL_HISTORY]
    assert res["valueCodeableConcept"]["coding"][0] == {
        "system": SNOMED,
        "code": "8517006",
        "display": "Former smoker (ex-smoker)",
    }
    assert "valueQuantity" not in res
    feeding = _fhir_event("observations", 2, row | {"code": "63895-7", "value_code": "LA29253-4"})
    assert feeding["valueCodeableConcept"]["coding"][0]["system"] == LOINC
    json.dumps(res)  # serialisable as written to NDJSON
