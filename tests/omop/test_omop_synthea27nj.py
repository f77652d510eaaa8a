"""End-to-end import of the real OMOP export Synthea27Nj (skips when the shared data is absent)."""

from __future__ import annotations

import polars as pl

from matcher.data.schema import TABLES

# the fixture ``imported`` (the export imported once per session) is in conftest.py


def test_output_is_a_valid_contract_directory(imported):
    out, tables, _ = imported
    from matcher.data.validate import validate_dataset

    result = validate_dataset(out)
    assert result.errors == []
    assert set(TABLES) == set(tables)  # issue 18: allergies provided (empty: none recorded)
    for name, table in TABLES.items():
        for column in table.columns if name in tables else ():
            assert tables[name].schema[column.name] == column.dtype


def test_28_patients_with_mapped_sexes(imported):
    _, tables, report = imported
    patients = tables["patients"]
    assert patients.height == 28
    assert patients["patient_id"].n_unique() == 28
    assert set(patients["sex"]) <= {"F", "M"}
    assert patients["sex"].n_unique() == 2
    assert report.table("person").converted == 28
    assert patients["death_date"].drop_nulls().len() == report.table("death").converted


def test_every_table_balances(imported):
    _, tables, report = imported
    for name in (
        "condition_occurrence",
        "drug_exposure",
        "measurement",
        "observation",
        "visit_occurrence",
        "observation_period",
        "death",
        "person",
    ):
        t = report.table(name)
        assert t.rows_in > 0, name
        assert t.rows_in == t.converted + t.unmapped_total, name
    assert report.table("condition_occurrence").rows_in == 470
    assert report.table("drug_exposure").rows_in == 883
    assert report.table("measurement").rows_in == 10_040
    derived_dx = sum(report.table("condition_occurrence").derived.values())
    assert tables["diagnoses"].height == (
        report.table("condition_occurrence").converted
        + derived_dx
        + report.table("observation").adjusted.get("condition_concept_to_diagnoses", 0)
    )


def test_hba1c_present_with_units(imported):
    _, tables, _ = imported
    hba1c = tables["observations"].filter(
        (pl.col("system") == "loinc") & (pl.col("code") == "4548-4")
    )
    assert hba1c.height > 0
    assert hba1c["unit"].null_count() == 0
    assert set(hba1c["unit"]) <= {"%", "mmol/mol"}
    assert hba1c["value"].is_between(3, 20).all()


def test_snomed_diagnoses_kept_and_rxnorm_prescriptions(imported):
    _, tables, _ = imported
    dx = tables["diagnoses"]
    assert (dx["system"] == "snomed").sum() > 0
    assert dx.filter(pl.col("system") == "snomed")["code"].str.contains(r"^\d+$").all()
    rx = tables["prescriptions"]
    assert (rx["system"] == "rxnorm").sum() == 883
    assert rx["duration_days"].drop_nulls().min() > 0
