"""Issue 18 (records): OMOP procedure_occurrence → procedures, visit kinds admission and
emergency outside the practice, on the real Synthea27Nj export (skips when it is absent; the
``imported`` fixture is in conftest.py)."""

from __future__ import annotations

import polars as pl

from matcher.data.loader import load_dataset
from terminology.systems import validate_code


def test_issue18_procedure_occurrence_becomes_procedures_with_valid_snomed_codes(imported):
    out, _, report = imported
    procedures = pl.read_parquet(out / "procedures.parquet")
    counted = report.table("procedure_occurrence")
    assert procedures.height == counted.converted > 0
    assert counted.rows_in == counted.converted + sum(counted.unmapped.values())
    assert procedures["system"].unique().to_list() == ["snomed"]
    # every SNOMED code passes the Verhoeff check: the import kept real concept ids
    assert all(validate_code("snomed", c) is None for c in procedures["code"].unique())
    # procedures and allergies provided (allergies from OBSERVATION, docs/omop-import.md)
    assert load_dataset(out).not_provided() == frozenset()


def test_issue18_inpatient_and_er_visits_are_admissions_and_emergencies_outside_the_practice(
    imported,
):
    out, _, _ = imported
    encounters = pl.read_parquet(out / "encounters.parquet")
    kinds = set(encounters["kind"].unique())
    assert {"admission", "emergency", "office"} <= kinds
    outside = encounters.filter(pl.col("kind").is_in(["admission", "emergency"]))
    assert outside.height > 0 and outside["practice_id"].null_count() == outside.height
    office = encounters.filter(pl.col("kind") == "office")
    assert office["practice_id"].null_count() == 0
