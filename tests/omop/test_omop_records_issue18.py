"""Issue 18 (records): OMOP procedure_occurrence → procedures, visit kinds admission and
emergency outside the practice, on the real Synthea27Nj export (skips when it is absent)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from matcher.data.loader import load_dataset
from matcher.omop import import_omop
from terminology.systems import validate_code

ZIP = Path("omop_synthea27nj/Synthea27Nj_5.4.zip")


@pytest.fixture(scope="module")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    archive = shared_data / ZIP
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    out = tmp_path_factory.mktemp("synthea27nj-records") / "out"
    report = import_omop(archive, out)
    return out, report


def test_issue18_procedure_occurrence_becomes_procedures_with_valid_snomed_codes(imported):
    out, report = imported
    procedures = pl.read_parquet(out / "procedures.parquet")
    counted = report.table("procedure_occurrence")
    assert procedures.height == counted.converted > 0
    assert counted.rows_in == counted.converted + sum(counted.unmapped.values())
    assert procedures["system"].unique().to_list() == ["snomed"]
    # every SNOMED code passes the Verhoeff check: the import kept real concept ids
    assert all(validate_code("snomed", c) is None for c in procedures["code"].unique())
    assert load_dataset(out).not_provided() == frozenset()


def test_issue18_inpatient_and_er_visits_are_admissions_and_emergencies_outside_the_practice(
    imported,
):
    out, _ = imported
    encounters = pl.read_parquet(out / "encounters.parquet")
    kinds = set(encounters["kind"].unique())
    assert {"admission", "emergency", "office"} <= kinds
    outside = encounters.filter(pl.col("kind").is_in(["admission", "emergency"]))
    assert outside.height > 0 and outside["practice_id"].null_count() == outside.height
    office = encounters.filter(pl.col("kind") == "office")
    assert office["practice_id"].null_count() == 0
