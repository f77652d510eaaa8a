"""Issue 18 (langdata item 1): OMOP allergies → the contract's ``allergies`` table.

Tested on the hand-written export ``tests/fixtures/omop_allergies`` (the THEMIS / FHIR-to-OMOP
"Allergy to drug" + substance shape and the ETL-Synthea pre-coordinated "Allergy to X" shape)
and on the real Synthea27Nj export: its vocabulary's allergy concepts are recognised, none of
its rows is an allergy, and allergy rows written into a copy of it in ETL-Synthea's shape are
converted.
"""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from criteria_dsl import compile_text
from matcher.cli import main
from matcher.data.loader import load_dataset
from matcher.engine.evaluate import evaluate
from matcher.omop import import_omop
from matcher.omop.allergies import allergy_concepts
from matcher.omop.importer import convert_omop
from matcher.omop.reader import open_source
from matcher.omop.vocabulary import Vocabulary

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "omop_allergies"
D = dt.date
SYNTHEA27NJ = Path("omop_synthea27nj") / "Synthea27Nj_5.4.zip"

STUDY = """\
study "ALLERGY-OMOP" version 1
index date 2022-06-30

codes penicillin_v = atc J01CE02  # exact: the shipped ATC table is partial
codes eggs        = snomed 102263004
codes wheat       = snomed 412071004

inclusion
  adult: age at index >= 18
exclusion
  penicillin:       has allergy to penicillin_v
  penicillin_intol: has allergy to penicillin_v of kind intolerance
  egg:              has allergy to eggs
  wheat:            has allergy to wheat within 10 years before index
"""


def _rows(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select("date", "system", "code", "kind", "mapped_from").iter_rows())


def test_issue18_omop_allergies_both_published_shapes_become_allergy_rows():
    tables, _ = convert_omop(FIXTURE)
    assert _rows(tables["allergies"]) == {
        # person 1: 439224 "Allergy to drug" + value_as_concept_id penicillin V (RxNorm 7984),
        # kept as recorded and as its ATC code through the vocabulary
        (D(2019, 3, 4), "rxnorm", "7984", "allergy", None),
        (D(2019, 3, 4), "atc", "J01CE02", "allergy", "rxnorm:7984"),
        # person 2 (ETL-Synthea): the "Allergy to X" finding → its causative agent
        (D(2015, 6, 1), "snomed", "412071004", "allergy", "snomed:420174000"),
        (D(2016, 2, 10), "snomed", "102263004", "allergy", "snomed:91930004"),
        # person 3: the egg allergy recorded in CONDITION_OCCURRENCE
        (D(2017, 11, 30), "snomed", "102263004", "allergy", "snomed:91930004"),
    }
    # the condition stays a diagnosis; the smoking status is not an allergy
    assert tables["diagnoses"].select("system", "code").rows() == [("snomed", "91930004")]


def test_issue18_omop_allergies_every_row_counted_none_dropped_silently():
    _, report = convert_omop(FIXTURE)
    obs = report.table("observation")
    assert obs.rows_in == 6 and obs.balanced()
    assert obs.converted == 3
    assert obs.adjusted["allergy_to_allergies"] == 3
    assert obs.unmapped == {
        "allergy_without_substance": 1,  # "Allergy to drug" with value_as_concept_id 0
        "allergy_substance_not_in_vocabulary": 1,  # mould: its agent has no CONCEPT row
        "no_numeric_value": 1,  # the smoking status without an answer
    }
    conditions = report.table("condition_occurrence")
    assert conditions.converted == 1 and conditions.derived == {"allergies": 1}
    assert report.outputs["allergies"] == 5


def test_issue18_omop_allergy_criteria_are_true_or_false_not_unknown(tmp_path):
    out = tmp_path / "out"
    import_omop(FIXTURE, out)
    data = load_dataset(out)
    assert "allergies" not in data.not_provided()
    result = evaluate(compile_text(STUDY), data)
    births = data.patients.select("patient_id", "birth_year").collect()
    people = result.patients.join(births, on="patient_id").sort("birth_year")
    # birth years: 1965 person 2, 1970 person 1, 1975 person 5, 1980 person 3, 1990 person 4
    assert people["penicillin"].to_list() == [False, True, False, False, False]
    # person 1's allergy is recorded as an allergy: not an intolerance (false, not unknown)
    assert people["penicillin_intol"].to_list() == [False] * 5
    assert people["egg"].to_list() == [True, False, False, True, False]
    assert people["wheat"].to_list() == [True, False, False, False, False]


def test_issue18_count_cli_on_imported_omop_has_no_allergy_warning(tmp_path):
    runner = CliRunner()
    out = tmp_path / "out"
    res = runner.invoke(main, ["import", "omop", str(FIXTURE), "--out", str(out)])
    assert res.exit_code == 0, res.output
    ledger = tmp_path / "ledger.sqlite"
    assert runner.invoke(main, ["ledger", "init", "--ledger", str(ledger)]).exit_code == 0
    study = tmp_path / "s.p4dp"
    study.write_text(STUDY, encoding="utf-8")
    args = ["count", str(study), "--data", str(out), "--ledger", str(ledger)]
    res = runner.invoke(main, [*args, "--requester", "t"])
    assert res.exit_code == 0, res.output
    assert "the data provides no allergies table" not in res.output
    # the same export without OBSERVATION or CONDITION_OCCURRENCE cannot tell: not provided
    bare = tmp_path / "bare"
    shutil.copytree(FIXTURE, bare)
    (bare / "OBSERVATION.csv").unlink()
    (bare / "CONDITION_OCCURRENCE.csv").unlink()
    res = runner.invoke(main, ["import", "omop", str(bare), "--out", str(tmp_path / "o2")])
    assert res.exit_code == 0, res.output
    assert "allergies: not provided" in res.output
    res = runner.invoke(main, [*args[:3], str(tmp_path / "o2"), *args[4:], "--requester", "t"])
    assert res.exit_code == 0, res.output
    assert "the data provides no allergies table" in res.output


def test_issue18_omop_intolerance_and_propensity_categories_give_their_kind(tmp_path):
    """Synthetic concept ids (9000xx) for the C-CDA categories "Drug intolerance" (59037007)
    and "Propensity to adverse reactions to drug" (419511003): the kind follows the category."""
    root = tmp_path / "export"
    shutil.copytree(FIXTURE, root)
    with (root / "CONCEPT.csv").open("a", encoding="utf-8") as f:
        f.write("900001,Drug intolerance,Observation,SNOMED,Clinical Finding,S,59037007,,,\n")
        f.write("900002,Propensity to drug reaction,Observation,SNOMED,Clinical Finding,S,")
        f.write("419511003,,,\n")
    with (root / "OBSERVATION.csv").open("a", encoding="utf-8") as f:
        f.write("7,5,900001,2021-02-01,,32817,,,1729720,0,0,,,,,0,,,\n")
        f.write("8,5,900002,2021-03-01,,32817,,,1729720,0,0,,,,,0,,,\n")
    tables, report = convert_omop(root)
    later = tables["allergies"].filter(pl.col("date") >= D(2021, 1, 1))
    assert _rows(later) == {
        (D(2021, 2, 1), "rxnorm", "7984", "intolerance", None),
        (D(2021, 2, 1), "atc", "J01CE02", "intolerance", "rxnorm:7984"),
        (D(2021, 3, 1), "rxnorm", "7984", None, None),
        (D(2021, 3, 1), "atc", "J01CE02", None, "rxnorm:7984"),
    }
    assert report.table("observation").balanced()


# ---- the real Synthea27Nj export -------------------------------------------------------------


@pytest.fixture(scope="module")
def synthea_dir(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    archive = shared_data / SYNTHEA27NJ
    if not archive.is_file():
        pytest.skip(f"{archive} is absent")
    root = tmp_path_factory.mktemp("synthea_allergies")
    with zipfile.ZipFile(archive) as z:
        z.extractall(root, [n for n in z.namelist() if not n.startswith("__MACOSX")])
    return next(p.parent for p in root.rglob("PERSON.csv"))


def test_issue18_synthea27nj_allergy_concepts_are_recognised(synthea_dir: Path):
    concepts = pl.read_csv(synthea_dir / "CONCEPT.csv", infer_schema=False)
    named = set(concepts.filter(pl.col("concept_name").str.starts_with("Allergy to"))["concept_id"])
    assert len(named) == 10
    with open_source(synthea_dir) as source:
        found = allergy_concepts(Vocabulary(source)).collect()
    findings = found.filter(pl.col("shape") == "finding")
    assert set(findings["concept_id"]) == named  # every one, and nothing else
    assert set(findings["kind"]) == {"allergy"}


def test_issue18_synthea27nj_has_no_allergy_row_and_an_empty_provided_table(imported):
    out, tables, report = imported
    assert tables["allergies"].height == 0
    assert "allergies" not in load_dataset(out).not_provided()  # provided: false, not unknown
    obs = report.table("observation")
    assert "allergy_to_allergies" not in obs.adjusted
    assert not any(r.startswith("allergy") for r in obs.unmapped)
    assert "allergies" not in report.table("condition_occurrence").derived


def test_issue18_synthea27nj_allergies_in_etl_synthea_shape_are_converted(
    synthea_dir: Path, tmp_path: Path
):
    root = tmp_path / "export"
    shutil.copytree(synthea_dir, root)
    observation = pl.read_csv(root / "OBSERVATION.csv", infer_schema=False)
    person = observation["person_id"][0]
    added = pl.DataFrame(
        [
            # ETL-Synthea insert_observation.sql: concept = source concept, type 38000280
            {
                "observation_concept_id": cid,
                "observation_source_concept_id": cid,
                "observation_source_value": code,
                "observation_date": day,
            }
            for cid, code, day in (
                ("4169137", "420174000", "2015-06-01"),  # wheat: agent in CONCEPT
                ("4102123", "300916003", "2016-06-01"),  # latex: agent in CONCEPT
                ("4304110", "419474003", "2017-06-01"),  # mould: agent not in CONCEPT
            )
        ]
    ).with_columns(
        observation_id=pl.lit("999999"),
        person_id=pl.lit(person),
        observation_type_concept_id=pl.lit("38000280"),
        value_as_concept_id=pl.lit("0"),
    )
    pl.concat([observation, added], how="diagonal").write_csv(root / "OBSERVATION.csv")
    tables, report = convert_omop(root)
    assert _rows(tables["allergies"]) == {
        (D(2015, 6, 1), "snomed", "412071004", "allergy", "snomed:420174000"),  # Wheat
        (D(2016, 6, 1), "snomed", "111088007", "allergy", "snomed:300916003"),  # Latex
    }
    obs = report.table("observation")
    assert obs.adjusted["allergy_to_allergies"] == 2
    assert obs.unmapped["allergy_substance_not_in_vocabulary"] == 1
    assert obs.balanced()


def test_issue18_omop_allergies_answer_the_same_from_a_snapshot(tmp_path):
    from matcher.snapshot.ingest import ingest
    from matcher.snapshot.reader import open_snapshot

    out = tmp_path / "out"
    import_omop(FIXTURE, out)
    ingest(out, tmp_path / "snap")
    study = compile_text(STUDY)
    rules = ["penicillin", "penicillin_intol", "egg", "wheat"]

    def answers(data: object) -> list[tuple]:
        return sorted(evaluate(study, data).patients.select("patient_id", *rules).iter_rows())

    from_snapshot = answers(open_snapshot(tmp_path / "snap"))
    assert from_snapshot == answers(load_dataset(out))
    assert sum(row[3] for row in from_snapshot) == 2  # two egg allergies
