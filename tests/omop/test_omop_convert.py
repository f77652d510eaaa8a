"""The OMOP importer on a small hand-written export (runs without the shared data)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from matcher.omop import convert_omop


@pytest.fixture
def converted(small_omop: Path):
    return convert_omop(small_omop)


def _by_birth_year(tables: dict[str, pl.DataFrame], table: str) -> pl.DataFrame:
    """Event rows keyed by their patient's birth year (pseudonyms are random)."""
    years = tables["patients"].select("patient_id", "birth_year")
    return tables[table].join(years, on="patient_id").drop("patient_id")


def test_every_source_row_is_converted_or_counted(converted):
    _, report = converted
    for name, t in report.tables.items():
        assert t.rows_in == t.converted + t.unmapped_total, name
    assert report.table("condition_occurrence").rows_in == 10
    assert report.table("measurement").rows_in == 6


def test_persons_sex_month_practice_and_rejections(converted):
    tables, report = converted
    patients = tables["patients"].sort("birth_year")
    assert patients["birth_year"].to_list() == [1950, 1960, 1970]
    assert patients["sex"].to_list() == ["M", "F", "U"]
    # month 13 is not a month: set to null and counted
    assert patients["birth_month"].to_list() == [3, None, None]
    assert report.table("person").adjusted["birth_month_out_of_range_set_null"] == 1
    # care_site_id, else the provider's care site, else unknown
    assert patients["practice_id"].to_list() == [
        "omop-care-site-10",
        "omop-care-site-20",
        "omop-unknown",
    ]
    assert patients["centre_id"].unique().to_list() == ["omop"]
    assert not patients["opted_out"].any()
    assert patients["practice_token"].null_count() == 3
    assert report.table("person").unmapped == {
        "duplicate_person_id": 2,
        "missing_year_of_birth": 1,
    }


def test_pseudonyms_are_random_and_unrelated_to_person_id(small_omop: Path):
    first, _ = convert_omop(small_omop)
    second, _ = convert_omop(small_omop)
    ids = first["patients"]["patient_id"]
    assert ids.n_unique() == 3
    assert all(len(i) == 32 for i in ids)
    assert not set(ids) & {"1", "2", "3"}
    assert not set(ids) & set(second["patients"]["patient_id"])


def test_registration_and_death(converted):
    tables, report = converted
    p = tables["patients"].sort("birth_year")
    # person 1: two periods, the last ends before the extraction date (2020-06-30)
    assert p["registered_from"][0] == dt.date(2005, 1, 1)
    assert p["registered_to"][0] == dt.date(2019, 12, 31)
    # person 2: observed until the extraction date, so still registered
    assert p["registered_from"][1] == dt.date(2015, 1, 1)
    assert p["registered_to"][1] is None
    # person 3: the only period has an unreadable start date
    assert p["registered_from"][2] is None
    assert report.table("observation_period").unmapped == {"bad_date": 1, "person_not_found": 1}
    # earliest of two death records kept, the other counted
    assert p["death_date"].to_list() == [dt.date(2019, 12, 31), None, None]
    assert report.table("death").unmapped == {
        "duplicate_death_record": 1,
        "person_not_found": 1,
    }
    assert report.extraction_date == "2020-06-30"


def test_extraction_date_option_and_unknown_extraction_date(small_omop: Path):
    tables, report = convert_omop(small_omop, extraction_date=dt.date(2019, 12, 31))
    assert report.extraction_date_origin == "--extraction-date"
    assert tables["patients"]["registered_to"].null_count() == 3
    (small_omop / "cdm_source.csv").unlink()
    tables, report = convert_omop(small_omop)
    assert report.extraction_date is None
    assert tables["patients"]["registered_to"].null_count() == 3
    tables, _ = convert_omop(
        small_omop, extraction_date=dt.date(2020, 6, 30), still_registered_within=200
    )
    assert tables["patients"]["registered_to"].null_count() == 3


def test_diagnoses_keep_source_codes_and_mark_derived_rows(converted):
    tables, report = converted
    rows = _by_birth_year(tables, "diagnoses").select("birth_year", "system", "code", "mapped_from")
    assert sorted(rows.rows(), key=str) == sorted(
        [
            (1950, "icd10", "E11.9", None),  # ICD10 source concept, not its SNOMED standard
            (1950, "icd10cm", "I10", None),
            (1960, "snomed", "44054006", None),  # no source concept: the standard one
            (1960, "icd10", "E11.9", "snomed:44054006"),  # unique ICD-10 back-map, marked
            (1960, "snomed", "38341003", None),  # two ICD-10 codes map to it: none derived
            (1960, "snomed", "38341003", None),  # observation row in the Condition domain
        ],
        key=str,
    )
    t = report.table("condition_occurrence")
    assert t.unmapped == {
        "concept_not_in_vocabulary": 1,
        "missing_date": 1,
        "no_concept": 1,
        "person_not_converted": 1,
        "person_not_found": 1,
        "unknown_vocabulary": 1,
    }
    assert t.derived == {"icd10": 1}


def test_prescriptions_rxnorm_atc_and_duration(converted):
    tables, report = converted
    rows = _by_birth_year(tables, "prescriptions").sort("birth_year", "system")
    assert rows.select("birth_year", "system", "code", "duration_days").rows() == [
        (1950, "atc", "A10BA02", 30),  # days_supply
        (1950, "rxnorm", "860975", 30),
        (1960, "atc", "A10BA02", 60),  # days_supply 0: end - start
        (1960, "rxnorm", "860975", 60),
        (1970, "atc", "A10BA02", None),  # neither
        (1970, "rxnorm", "860975", None),
    ]
    assert set(rows.filter(pl.col("system") == "atc")["mapped_from"]) == {"rxnorm:860975"}
    assert report.table("drug_exposure").derived == {"atc": 3}


def test_measurements_units_converted_to_ucum(converted):
    tables, report = converted
    obs = _by_birth_year(tables, "observations").filter(pl.col("date") == dt.date(2019, 4, 1))
    by_code = {
        (r["birth_year"], r["code"]): (r["value"], r["unit"]) for r in obs.iter_rows(named=True)
    }
    assert by_code[(1950, "4548-4")] == (7.1, "%")
    value, unit = by_code[(1950, "29463-7")]
    assert unit == "kg" and value == pytest.approx(100.0, abs=1e-3)  # 220.462 [lb_av]
    value, unit = by_code[(1960, "8310-5")]
    assert unit == "Cel" and value == pytest.approx(37.0)  # 98.6 [degF]
    assert by_code[(1960, "2160-0")] == (1.1, "mg/dL")  # respelled, same value
    assert by_code[(1970, "4548-4")] == (None, None)  # kept without a value
    t = report.table("measurement")
    assert t.unmapped == {"bad_value": 1}
    assert t.adjusted["unit_converted"] == 2


def test_observation_rows_routed_by_value_and_domain(converted):
    tables, report = converted
    obs = _by_birth_year(tables, "observations").filter(pl.col("date") == dt.date(2019, 5, 1))
    assert obs.select("birth_year", "code", "value", "unit").rows() == [
        (1950, "29463-7", 80.0, "kg")
    ]
    t = report.table("observation")
    assert t.unmapped == {"no_numeric_value": 1}
    assert t.adjusted["condition_concept_to_diagnoses"] == 1


def test_encounter_kinds_and_practice(converted):
    tables, report = converted
    enc = _by_birth_year(tables, "encounters")
    assert sorted(enc.select("birth_year", "kind", "practice_id").rows()) == [
        (1950, "admission", None),  # issue 18: inpatient visits are admissions, outside
        (1950, "home", "omop-care-site-10"),
        (1950, "office", "omop-care-site-10"),
        (1950, "other", "omop-care-site-10"),
        (1960, "emergency", None),
        (1970, "tele", "omop-unknown"),
    ]
    assert report.table("visit_occurrence").unmapped == {"person_not_found": 1}


def test_without_vocabulary_coded_rows_are_reported(small_omop: Path):
    for name in ("concept.csv", "concept_relationship.csv"):
        (small_omop / name).unlink()
    tables, report = convert_omop(small_omop)
    t = report.table("condition_occurrence")
    assert t.converted == 0
    assert t.unmapped["concept_not_in_vocabulary"] == 6  # 10 - 4 rows with other reasons
    assert tables["diagnoses"].height == 0
    assert tables["encounters"].height == 6
    assert "concept" in report.absent
