"""Issue 18 (drugs): DRUG_EXPOSURE doses: the daily dose from quantity × strength / days of
supply (DRUG_STRENGTH), null wherever one of them is missing; the Synthea export has none."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from matcher.omop import convert_omop


def _add_strength(root: Path, rows: list[dict]) -> None:
    concepts = pl.read_csv(root / "concept.csv", infer_schema=False)
    mg = {c: None for c in concepts.columns} | {
        "concept_id": "8576",
        "concept_name": "milligram",
        "vocabulary_id": "UCUM",
        "concept_code": "mg",
        "domain_id": "Unit",
    }
    pl.concat([concepts, pl.DataFrame([mg], schema=concepts.schema)]).write_csv(
        root / "concept.csv"
    )
    pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).write_csv(root / "DRUG_STRENGTH.csv")


def _exposures(root: Path, quantity: list[float | None], supply: list[int | None]) -> None:
    n = len(quantity)
    pl.DataFrame(
        {
            "drug_exposure_id": list(range(1, n + 1)),
            "person_id": [1, 2, 3][:n],
            "drug_concept_id": [200] * n,
            "drug_exposure_start_date": [dt.date(2019, 1, 1)] * n,
            "drug_exposure_end_date": [dt.date(2019, 2, 1)] * n,
            "quantity": quantity,
            "days_supply": supply,
            "drug_source_concept_id": [200] * n,
        }
    ).write_parquet(root / "DRUG_EXPOSURE.parquet")


def _doses(root: Path) -> list[tuple]:
    tables, _ = convert_omop(root)
    years = tables["patients"].select("patient_id", "birth_year")
    rows = tables["prescriptions"].join(years, on="patient_id")
    return (
        rows.sort("birth_year", "system")
        .select("birth_year", "system", "dose", "daily_dose", "dose_unit")
        .rows()
    )


def test_issue18_omop_daily_dose_from_quantity_strength_and_supply(small_omop: Path):
    _exposures(small_omop, [60.0, 0.0, 30.0], [30, 30, None])
    _add_strength(
        small_omop,
        [{"drug_concept_id": "200", "amount_value": "500", "amount_unit_concept_id": "8576"}],
    )
    assert _doses(small_omop) == [
        (1950, "atc", None, 1000.0, "mg"),  # 500 mg × 60 / 30 days
        (1950, "rxnorm", None, 1000.0, "mg"),
        (1960, "atc", None, None, None),  # quantity 0
        (1960, "rxnorm", None, None, None),
        (1970, "atc", None, None, None),  # no days of supply
        (1970, "rxnorm", None, None, None),
    ]


def test_issue18_omop_no_dose_for_combinations_or_without_strength(small_omop: Path):
    _exposures(small_omop, [60.0], [30])
    _add_strength(
        small_omop,
        [
            {"drug_concept_id": "200", "amount_value": "500", "amount_unit_concept_id": "8576"},
            {"drug_concept_id": "200", "amount_value": "50", "amount_unit_concept_id": "8576"},
        ],
    )
    assert {row[3] for row in _doses(small_omop)} == {None}
    (small_omop / "DRUG_STRENGTH.csv").unlink()
    assert {row[3] for row in _doses(small_omop)} == {None}


def test_issue18_omop_synthea_export_has_no_doses(shared_data: Path, tmp_path: Path):
    archive = shared_data / "omop_synthea27nj" / "Synthea27Nj_5.4.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    tables, _ = convert_omop(archive)
    rows = tables["prescriptions"]
    assert rows.height > 0
    assert {"dose", "daily_dose", "dose_unit"} <= set(rows.columns)
    assert rows["daily_dose"].null_count() == rows.height  # quantity 0, DRUG_STRENGTH empty
