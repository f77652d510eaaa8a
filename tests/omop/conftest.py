"""A small hand-written OMOP CDM export, built in a temporary folder for each test that asks.

Persons 1-3 convert; person 4 has no year of birth; person 5 appears twice; person 99 is
referenced by events but absent from PERSON. The vocabulary links RxNorm 860975 (metformin
500 mg tablet) to ATC A10BA02 through its ingredient, and SNOMED 44054006 back to exactly one
ICD-10 code (E11.9) while SNOMED 38341003 has two (I10, I15), so it gets none.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest


def _csv(path: Path, rows: list[dict[str, object]]) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    frame = pl.DataFrame(
        {c: [None if r.get(c) is None else str(r.get(c)) for r in rows] for c in columns},
        schema={c: pl.String for c in columns},
    )
    frame.write_csv(path)


def _concept(cid: int, vocab: str, code: str, domain: str, cls: str = "") -> dict[str, object]:
    return {
        "concept_id": cid,
        "concept_name": f"concept {cid}",
        "domain_id": domain,
        "vocabulary_id": vocab,
        "concept_class_id": cls or domain,
        "standard_concept": "S",
        "concept_code": code,
    }


CONCEPTS = [
    _concept(100, "ICD10", "E11.9", "Condition"),
    _concept(101, "SNOMED", "44054006", "Condition"),
    _concept(102, "ICD10CM", "I10", "Condition"),
    _concept(103, "Read", "C10..", "Condition"),
    _concept(105, "SNOMED", "38341003", "Condition"),
    _concept(106, "ICD10", "I10", "Condition"),
    _concept(107, "ICD10", "I15", "Condition"),
    _concept(200, "RxNorm", "860975", "Drug", "Clinical Drug"),
    _concept(201, "RxNorm", "6809", "Drug", "Ingredient"),
    _concept(202, "ATC", "A10BA02", "Drug", "ATC 5th"),
    _concept(203, "ATC", "A10BA", "Drug", "ATC 4th"),
    _concept(300, "LOINC", "4548-4", "Measurement"),
    _concept(301, "LOINC", "29463-7", "Measurement"),
    _concept(302, "LOINC", "8310-5", "Measurement"),
    _concept(303, "LOINC", "2160-0", "Measurement"),
    _concept(8554, "UCUM", "%", "Unit"),
    _concept(9529, "UCUM", "kg", "Unit"),
    _concept(8739, "UCUM", "[lb_av]", "Unit"),
    _concept(9202, "Visit", "OP", "Visit"),
]

RELATIONSHIPS = [
    (100, 101, "Maps to"),
    (101, 100, "Mapped from"),
    (106, 105, "Maps to"),
    (107, 105, "Maps to"),
    (200, 201, "RxNorm has ing"),
    (201, 202, "RxNorm - ATC pr lat"),
    (201, 203, "RxNorm - ATC pr up"),
]


def write_small_omop(root: Path) -> Path:
    """Write the small export into ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    _csv(
        root / "PERSON.csv",
        [
            {
                "person_id": 1,
                "gender_concept_id": 8507,
                "year_of_birth": 1950,
                "month_of_birth": 3,
                "care_site_id": 10,
                "provider_id": None,
            },
            {
                "person_id": 2,
                "gender_concept_id": 8532,
                "year_of_birth": 1960,
                "month_of_birth": 13,
                "care_site_id": None,
                "provider_id": 5,
            },
            {"person_id": 3, "gender_concept_id": 0, "year_of_birth": 1970},
            {"person_id": 4, "gender_concept_id": 8532, "year_of_birth": None},
            {"person_id": 5, "gender_concept_id": 8532, "year_of_birth": 1980},
            {"person_id": 5, "gender_concept_id": 8507, "year_of_birth": 1981},
        ],
    )
    _csv(root / "provider.csv", [{"provider_id": 5, "care_site_id": 20}])
    _csv(root / "cdm_source.csv", [{"cdm_source_name": "t", "source_release_date": "2020-06-30"}])
    _csv(
        root / "observation_period.csv",
        [
            {
                "observation_period_id": 1,
                "person_id": 1,
                "observation_period_start_date": "2010-01-01",
                "observation_period_end_date": "2019-12-31",
            },
            {
                "observation_period_id": 2,
                "person_id": 1,
                "observation_period_start_date": "2005-01-01",
                "observation_period_end_date": "2009-12-31",
            },
            {
                "observation_period_id": 3,
                "person_id": 2,
                "observation_period_start_date": "2015-01-01",
                "observation_period_end_date": "2020-06-30",
            },
            {
                "observation_period_id": 4,
                "person_id": 3,
                "observation_period_start_date": "not-a-date",
                "observation_period_end_date": "2020-01-01",
            },
            {
                "observation_period_id": 5,
                "person_id": 99,
                "observation_period_start_date": "2015-01-01",
                "observation_period_end_date": "2016-01-01",
            },
        ],
    )
    _csv(
        root / "Death.csv",
        [
            {"person_id": 1, "death_date": "2020-01-05"},
            {"person_id": 1, "death_date": "2019-12-31"},
            {"person_id": 99, "death_date": "2019-01-01"},
        ],
    )
    _csv(root / "concept.csv", CONCEPTS)
    _csv(
        root / "concept_relationship.csv",
        [{"concept_id_1": a, "concept_id_2": b, "relationship_id": r} for a, b, r in RELATIONSHIPS],
    )

    def cond(i: int, person: int, src: int, std: int, date: str | None = "2018-05-01"):
        return {
            "condition_occurrence_id": i,
            "person_id": person,
            "condition_concept_id": std,
            "condition_start_date": date,
            "condition_source_concept_id": src,
            "condition_source_value": "x",
        }

    _csv(
        root / "condition_occurrence.csv",
        [
            cond(1, 1, 100, 101),  # ICD10 source code
            cond(2, 2, 0, 101),  # SNOMED only, unique ICD-10 back-map
            cond(3, 1, 102, 0),  # ICD10CM
            cond(4, 3, 103, 0),  # Read: unknown vocabulary
            cond(5, 99, 100, 101),  # person not in PERSON
            cond(6, 1, 0, 0),  # no concept
            cond(7, 1, 999, 0),  # concept not in CONCEPT
            cond(8, 1, 100, 101, None),  # no date
            cond(9, 2, 0, 105),  # SNOMED, ambiguous ICD-10 back-map
            cond(10, 4, 100, 101),  # person not converted
        ],
    )
    # drug_exposure as typed Parquet: ids as integers, dates as dates.
    pl.DataFrame(
        {
            "drug_exposure_id": [1, 2, 3],
            "person_id": [1, 2, 3],
            "drug_concept_id": [200, 200, 200],
            "drug_exposure_start_date": [dt.date(2019, 1, 1)] * 3,
            "drug_exposure_end_date": [dt.date(2019, 2, 1), dt.date(2019, 3, 2), None],
            "days_supply": [30, 0, None],
            "drug_source_concept_id": [200, 200, 0],
        }
    ).write_parquet(root / "DRUG_EXPOSURE.parquet")

    def meas(i, person, concept, value, unit_id=0, unit_src=None):
        return {
            "measurement_id": i,
            "person_id": person,
            "measurement_concept_id": concept,
            "measurement_date": "2019-04-01",
            "value_as_number": value,
            "unit_concept_id": unit_id,
            "unit_source_value": unit_src,
            "measurement_source_concept_id": concept,
        }

    _csv(
        root / "measurement.csv",
        [
            meas(1, 1, 300, "7.1", 8554, "%"),
            meas(2, 1, 301, "220.462", 8739, "lb"),
            meas(3, 2, 302, "98.6", 0, "[degF]"),
            meas(4, 2, 303, "1.1", 0, "mg/dl"),
            meas(5, 2, 300, "abc", 8554, "%"),
            meas(6, 3, 300, None, 0, None),
        ],
    )

    def obs(i, person, concept, value=None, unit=None):
        return {
            "observation_id": i,
            "person_id": person,
            "observation_concept_id": concept,
            "observation_date": "2019-05-01",
            "value_as_number": value,
            "unit_source_value": unit,
            "observation_source_concept_id": 0,
        }

    _csv(
        root / "observation.csv",
        [obs(1, 1, 301, "80", "KG"), obs(2, 2, 105), obs(3, 1, 300)],
    )

    def visit(i, person, concept, care_site=None):
        return {
            "visit_occurrence_id": i,
            "person_id": person,
            "visit_concept_id": concept,
            "visit_start_date": "2019-06-01",
            "care_site_id": care_site,
        }

    _csv(
        root / "visit_occurrence.csv",
        [
            visit(1, 1, 9202, 10),
            visit(2, 2, 9203),
            visit(3, 3, 5083),
            visit(4, 1, 581476),
            visit(5, 1, 9201),
            visit(6, 1, 32037),
            visit(7, 99, 9202),
        ],
    )
    return root


@pytest.fixture
def small_omop(tmp_path: Path) -> Path:
    """Path of a freshly written small OMOP export."""
    return write_small_omop(tmp_path / "omop")


SYNTHEA27NJ = Path("omop_synthea27nj/Synthea27Nj_5.4.zip")


@pytest.fixture(scope="session")
def imported(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real OMOP export Synthea27Nj imported once: (directory, tables, report); skips when
    the shared data is absent."""
    from matcher.data.schema import TABLES
    from matcher.omop import import_omop

    archive = shared_data / SYNTHEA27NJ
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    out = tmp_path_factory.mktemp("synthea27nj") / "out"
    report = import_omop(archive, out)
    # an optional table the import did not write (not provided) is left out
    files = {name: out / f"{name}.parquet" for name in TABLES}
    tables = {name: pl.read_parquet(path) for name, path in files.items() if path.is_file()}
    return out, tables, report
