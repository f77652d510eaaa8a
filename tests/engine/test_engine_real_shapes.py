"""Data in the shapes real extracts have (issue 12): undotted and dotted ICD-10 and ICD-10-CM,
lower case and padded codes, mixed and unknown systems, potassium in meq/L, unknown units.

Each criterion of a criteria file written from the manual gives the same verdicts on this data
as on the clean version of the same data, checked against the reference evaluator; what can
still fail to match is reported by ``p4dp data check`` and the engine's warnings."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner
from engine_helpers import D, engine_rows, patient, reference_rows

from criteria_dsl import compile_text
from matcher.cli import main
from matcher.data.codenorm import normal_code
from matcher.data.loader import empty_frame, load_dataset
from matcher.data.schema import TABLES
from matcher.engine.evaluate import evaluate

CRITERIA = """\
study "REAL-SHAPES" version 1
index date 2024-06-15

codes t2d = icd10 E11 and descendants, icd9cm 250 and descendants
codes af = icd10 I48 and descendants
codes metformin = atc A10BA02
codes hypokalaemia_lab = loinc 2823-3

inclusion
  diabetes:  has diagnosis t2d
  metformin: has prescription metformin
  hba1c:     latest lab loinc 4548-4 within 2 years before index > 7.5 %
exclusion
  af:        has diagnosis af
  low_k:     at least 3 labs hypokalaemia_lab with value < 3.5 mmol/L
"""

# (patient, system, code as the extract writes it, code in normal form)
DIAGNOSES = [
    ("p1", "icd10", "E119", "E11.9"),
    ("p2", "icd10", "e11.9 ", "E11.9"),
    ("p3", "icd10", " E11.9", "E11.9"),
    ("p4", "icd10", "E11", "E11"),
    ("p5", "icd10", "E11X", "E11"),
    ("p5", "icd10", "I480", "I48.0"),
    ("p6", "icd10cm", "E1142", "E11.42"),  # ICD-10-CM: not reached by an icd10 set
    ("p7", "icd9cm", "25000", "250.00"),  # ICD-9-CM, undotted as US extracts write it
    ("p8", "icd10", "E11.9", "E11.9"),
]
PRESCRIPTIONS = [
    (p, "atc", spelled, "A10BA02")
    for p, spelled in (("p1", "a10ba02"), ("p2", " A10BA02"), ("p3", "A10BA02"), ("p8", "A10BA02"))
] + [("p4", "text", "metformine 500", "metformine 500")]


def _rows(spelled: bool) -> dict[str, pl.DataFrame]:
    def coded(rows, extra=None):
        return [
            {"patient_id": p, "date": D(2024, 1, 1), "system": s, "code": w if spelled else n}
            | (extra or {})
            for p, s, w, n in rows
        ]

    hba1c = " 4548-4" if spelled else "4548-4"
    observations = [
        {
            "patient_id": p,
            "date": D(2024, 3, 1),
            "system": "loinc",
            "code": hba1c,
            "value": v,
            "unit": u,
        }
        for p, v, u in (
            ("p1", 8.1, "%"),
            ("p2", 70.0, "mmol/mol"),
            ("p3", 8.0, "{ratio}"),
            ("p8", 6.0, "%"),
        )
    ] + [
        {
            "patient_id": "p1",
            "date": D(2024, m, 1),
            "system": "loinc",
            "code": "2823-3",
            "value": 3.1,
            "unit": "meq/L",
        }
        for m in (1, 2, 3)
    ]
    tables = {
        "patients": [patient(f"p{i}") for i in range(1, 9)],
        "diagnoses": coded(DIAGNOSES),
        "prescriptions": coded(PRESCRIPTIONS),
        "observations": observations,
    }
    out = {}
    for name in TABLES:
        schema = TABLES[name].schema()
        rows = [
            {c: r.get(c, TABLES[name].column(c).default) for c in schema}
            for r in tables.get(name, [])
        ]
        out[name] = pl.DataFrame(rows, schema=schema, orient="row") if rows else empty_frame(name)
    return out


def _write(root, spelled: bool):
    path = root / ("spelled" if spelled else "clean")
    path.mkdir()
    for name, frame in _rows(spelled).items():
        frame.write_csv(path / f"{name}.csv")
    return path


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("real-shapes")
    return _write(root, spelled=True), _write(root, spelled=False)


def test_the_fixture_is_spelled_as_real_extracts_are():
    spelled = _rows(True)["diagnoses"]
    assert {"E119", "e11.9 ", " E11.9", "E11X", "I480", "E1142"} <= set(spelled["code"])
    assert [normal_code(s, c) for s, c in spelled.select("system", "code").rows()] == [
        n for _, _, _, n in DIAGNOSES
    ]


def test_issue12_item1_every_criterion_gives_the_same_verdicts_whatever_the_spelling(dirs):
    spelled, clean = dirs
    study = compile_text(CRITERIA)
    on_spelled = engine_rows(evaluate(study, spelled))
    assert on_spelled == engine_rows(evaluate(study, clean))
    assert on_spelled == reference_rows(study, load_dataset(spelled))
    # what the manual's criteria find: undotted, lower case, padded and filled codes alike
    assert {p for p, r in on_spelled.items() if r["diabetes"]} == {
        "p1",
        "p2",
        "p3",
        "p4",
        "p5",
        "p7",
        "p8",
    }
    assert {p for p, r in on_spelled.items() if r["metformin"]} == {"p1", "p2", "p3", "p8"}
    assert on_spelled["p5"]["af"] is True
    assert on_spelled["p3"]["hba1c"] is None  # a unit no conversion reaches: to verify
    assert on_spelled["p1"]["low_k"] is not False  # meq/L potassium: never silently false


def test_issue12_item5_data_check_reports_every_way_the_data_can_fail_to_match(dirs):
    spelled, _ = dirs
    res = CliRunner().invoke(main, ["data", "check", str(spelled), "--format", "json"])
    assert res.exit_code == 0, res.output
    warnings = json.loads(res.stdout)["warnings"]
    text = "\n".join(warnings)
    assert "diagnoses.csv: column 'code': 7 rows with a code written in another form" in text
    assert "'E119' → 'E11.9'" in text
    assert not any("code system 'icd9cm'" in w for w in warnings)  # ICD-9-CM is resolved
    assert "1 row (20.0 % of prescriptions) in code system 'text'" in text
    assert "1 row of loinc 4548-4 in unit '{ratio}', which no conversion reaches" in text
    assert not any("not a valid" in w for w in warnings)


def test_data_check_strict_refuses_codes_not_valid_in_their_system(tmp_path):
    tables = _rows(False)
    tables["diagnoses"] = tables["diagnoses"].with_columns(
        pl.when(pl.col("patient_id") == "p8").then(pl.lit("E1")).otherwise("code").alias("code")
    )
    path = tmp_path / "data"
    path.mkdir()
    for name, frame in tables.items():
        frame.write_parquet(path / f"{name}.parquet")
    lenient = CliRunner().invoke(main, ["data", "check", str(path)])
    assert lenient.exit_code == 0
    assert "1 row with a code that is not a valid icd10 code (1 distinct code, e.g. 'E1')" in (
        lenient.stderr
    )
    strict = CliRunner().invoke(main, ["data", "check", str(path), "--strict"])
    assert strict.exit_code == 1
    assert "not a valid icd10 code" in strict.stderr and "data refused" in strict.stderr
