"""Issue 18 (status): OMOP observations with coded answers → ``observations.value_code``;
smoking and pregnancy findings recorded as the concept → status observations. On a small
real-shaped export and on the shared Synthea27Nj export (skipped when absent)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from conftest import _concept, _csv, write_small_omop

from criteria_dsl import compile_text
from matcher.engine.evaluate import evaluate
from matcher.omop import convert_omop, import_omop

STATUS_CONCEPTS = [
    _concept(43054909, "LOINC", "72166-2", "Observation"),
    _concept(45876662, "SNOMED", "8517006", "Observation", "Clinical Finding"),
    _concept(42709996, "SNOMED", "449868002", "Observation", "Clinical Finding"),
    _concept(3042049, "LOINC", "82810-3", "Observation"),
    _concept(4299535, "SNOMED", "77386006", "Observation", "Clinical Finding"),
]


def _obs(i: int, person: int, concept: int, day: str, **extra: object) -> dict[str, object]:
    return {
        "observation_id": i,
        "person_id": person,
        "observation_concept_id": concept,
        "observation_date": day,
        "observation_source_concept_id": 0,
        **extra,
    }


@pytest.fixture
def status_omop(tmp_path: Path) -> Path:
    root = write_small_omop(tmp_path / "omop")
    concepts = pl.read_csv(root / "concept.csv", infer_schema=False)
    extra = pl.DataFrame(
        [{k: str(v) for k, v in c.items()} for c in STATUS_CONCEPTS], schema=concepts.schema
    )
    pl.concat([concepts, extra]).write_csv(root / "concept.csv")
    _csv(
        root / "observation.csv",
        [
            # LOINC smoking status with its SNOMED answer in value_as_concept_id
            _obs(1, 1, 43054909, "2018-03-01", value_as_concept_id=45876662),
            # the answer only written in value_source_value
            _obs(
                2, 2, 43054909, "2018-03-01", value_as_concept_id=0, value_source_value="449868002"
            ),
            # a smoking finding recorded as the concept itself
            _obs(3, 3, 42709996, "2018-03-01"),
            # pregnancy status answered "pregnant" (person 2 is a woman; person 1 a man)
            _obs(4, 2, 3042049, "2019-05-01", value_as_concept_id=4299535),
            _obs(6, 1, 3042049, "2019-05-01", value_as_concept_id=4299535),
            # a status without any answer: no value, no answer: counted, not converted
            _obs(5, 2, 43054909, "2018-04-01", value_as_concept_id=0),
        ],
    )
    return root


def _by_birth_year(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    years = tables["patients"].select("patient_id", "birth_year")
    return tables["observations"].join(years, on="patient_id").drop("patient_id")


def test_issue18_omop_coded_answers_become_value_code(status_omop: Path):
    tables, report = convert_omop(status_omop)
    obs = _by_birth_year(tables).filter(pl.col("code").is_in(["72166-2", "82810-3"]))
    got = (
        obs.sort("birth_year", "date")
        .select("birth_year", "date", "system", "code", "value", "value_code")
        .rows()
    )
    assert all(r[4] is None for r in got)  # coded answers carry no value
    assert (
        not _by_birth_year(tables)
        .filter(~pl.col("code").is_in(["72166-2", "82810-3"]) & pl.col("value_code").is_not_null())
        .height
    )  # measurements without a coded answer get none
    by_code = {(r[2], r[3], r[5]) for r in got}
    assert by_code == {
        ("loinc", "72166-2", "8517006"),
        ("loinc", "72166-2", "449868002"),
        ("loinc", "82810-3", "77386006"),
    }
    assert sum(1 for r in got if r[3] == "72166-2") == 3  # the finding became a status row
    t = report.table("observation")
    assert t.adjusted["coded_answer_to_value_code"] == 5
    assert t.adjusted["status_finding_to_status_observation"] == 1
    assert t.unmapped == {"no_numeric_value": 1}


def test_issue18_omop_import_then_smoking_and_pregnancy_rules(status_omop: Path, tmp_path: Path):
    out = tmp_path / "out"
    import_omop(status_omop, out)
    study = compile_text(
        'study "S"\nindex date 2019-06-01\ninclusion\n'
        "  smoker: smoking status at index is current\n"
        "  ex: smoking status at index is former\n"
        "  preg: pregnant at index\n"
    )
    rows = {r["patient_id"]: r for r in evaluate(study, out).patients.iter_rows(named=True)}
    assert sorted((r["smoker"], r["ex"]) for r in rows.values()) == [
        (False, True),
        (True, False),
        (True, False),
    ]
    # the woman is pregnant; the man's "pregnant" answer does not make him so
    assert sorted(str(r["preg"]) for r in rows.values()) == ["False", "None", "True"]


def test_issue18_synthea27nj_smoking_rows(shared_data: Path, tmp_path: Path):
    archive = shared_data / "omop_synthea27nj" / "Synthea27Nj_5.4.zip"
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    out = tmp_path / "out"
    report = import_omop(archive, out)
    obs = pl.read_parquet(out / "observations.parquet")
    status = obs.filter(pl.col("code") == "72166-2")
    # this export keeps 465 smoking-status rows without their answer (value_as_concept_id 0):
    # they are counted, not imported; its one "Smokes tobacco daily" finding becomes a
    # smoking-status row answered 449868002
    assert status.select("system", "value_code").rows() == [("loinc", "449868002")]
    assert status["date"].to_list() == [dt.date(2019, 3, 31)]
    t = report.table("observation")
    assert t.adjusted["status_finding_to_status_observation"] == 1
    assert t.unmapped["no_numeric_value"] >= 465
