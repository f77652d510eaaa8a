"""Issue 13, ``p4dp candidates``: one signed list per practice, holding only the tokens of
that practice's listed patients, with statuses and rules that agree with the engine."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from candidates_helpers import national_ids, practice_token

from criteria_dsl import compile_file, ir
from matcher.candidates.build import build_lists
from matcher.candidates.document import CANDIDATE_FIELDS, LIST_FIELDS, verify_list
from matcher.candidates.receive import receive_uploads
from matcher.candidates.signing import generate_signing_key
from matcher.data.loader import load_dataset
from matcher.engine.evaluate import evaluate

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
INDEX = dt.date(2026, 6, 30)
ISSUED = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def received(uploads, pseudonym_key, tmp_path) -> Path:
    data = tmp_path / "data"
    receive_uploads(list(uploads.values()), data, pseudonym_key)
    return data


@pytest.fixture(scope="module")
def key():
    return generate_signing_key()


def _lists(study_file: str, data: Path, key, **kwargs):
    study = compile_file(EXAMPLES / study_file)
    dataset = load_dataset(data)
    result = evaluate(study, dataset, index_date=INDEX)
    return result, build_lists(result, dataset.patients, key, issued=ISSUED, **kwargs)


@pytest.mark.parametrize("study_file", ["hypertension_sprint.p4dp", "ckd_sglt2.p4dp"])
def test_issue13_lists_hold_only_that_practices_listed_patients(
    study_file, received, population, side, key
):
    result, outcome = _lists(study_file, received, key)
    listed = result.patients.filter(
        pl.col("verdict").cast(pl.String).is_in(["eligible", "possibly_eligible"])
    )
    assert listed.height > 0
    assert {d.practice_id for d in outcome.lists} == set(listed["practice_id"])
    tokens = pl.read_parquet(received / "patients").select("patient_id", "practice_token")
    # every token the practice could ever recompute (its own patients, its own key)
    local = national_ids(population)
    for item in outcome.lists:
        checked = verify_list(item.document, key.public(), now=ISSUED, practice_id=item.practice_id)
        assert set(item.document) == set(LIST_FIELDS)
        assert all(set(c) == set(CANDIDATE_FIELDS) for c in item.document["candidates"])
        mine = listed.filter(pl.col("practice_id") == item.practice_id).join(
            tokens, on="patient_id"
        )
        expected = dict(zip(mine["practice_token"], mine["verdict"].cast(pl.String), strict=True))
        assert {c.token: c.status for c in checked.candidates} == expected
        assert [c.row for c in checked.candidates] == list(range(1, len(expected) + 1))
        practice_key = side.key(item.practice_id)
        own = {
            practice_token(practice_key, "v1", loc)
            for loc in local.filter(pl.col("practice_id") == item.practice_id)["local_id"]
        } | {practice_token(practice_key, "v1", f"M{i}") for i in range(5)}
        assert {c.token for c in checked.candidates} <= own


def test_issue13_rules_met_and_to_verify_follow_the_rule_results(received, key):
    result, outcome = _lists("hypertension_sprint.p4dp", received, key)
    study = result.study
    tokens = pl.read_parquet(received / "patients").select("patient_id", "practice_token")
    rows = result.patients.join(tokens, on="patient_id")
    by_token = {r["practice_token"]: r for r in rows.iter_rows(named=True)}
    possibly = 0
    for item in outcome.lists:
        for cand in item.document["candidates"]:
            row = by_token[cand["token"]]
            for rule in study.rules:
                value = row[rule.name]
                if value is None and rule.unknown_as is not None:
                    value = rule.unknown_as
                if value is None:
                    assert rule.name in cand["to_verify"]
                else:
                    assert value == (rule.section is ir.Section.INCLUSION), rule.name
                    assert rule.name in cand["met"]
            assert (cand["status"] == "possibly_eligible") == bool(cand["to_verify"])
            possibly += cand["status"] == "possibly_eligible"
    assert possibly > 0


def test_issue13_opted_out_patients_never_listed(received, key, tmp_path):
    result, outcome = _lists("hypertension_sprint.p4dp", received, key)
    first = outcome.lists[0]
    tokens = [c["token"] for c in first.document["candidates"][:3]]
    # the practice records an objection: the engine drops them from the base population
    patients = pl.read_parquet(received / "patients")
    flagged = patients.with_columns(opted_out=pl.col("practice_token").is_in(tokens))
    again = evaluate(result.study, {**_tables(received), "patients": flagged}, index_date=INDEX)
    relisted = build_lists(again, flagged, key, issued=ISSUED)
    listed_now = {c["token"] for d in relisted.lists for c in d.document["candidates"]}
    assert listed_now and not set(tokens) & listed_now
    # and even from results computed before the objection, the list drops them
    stale = build_lists(result, flagged, key, issued=ISSUED)
    listed_stale = {c["token"] for d in stale.lists for c in d.document["candidates"]}
    assert listed_stale and not set(tokens) & listed_stale


def _tables(data: Path) -> dict[str, pl.DataFrame]:
    return {
        name: pl.read_parquet(data / name)
        for name in ("diagnoses", "prescriptions", "observations", "encounters")
    }


def test_issue13_practice_filter_expiry_and_missing_tokens(received, key):
    result, full = _lists("hypertension_sprint.p4dp", received, key)
    practice = full.lists[0].practice_id
    _, only = _lists(
        "hypertension_sprint.p4dp",
        received,
        key,
        practices=[practice, "P-NONE"],
        validity=dt.timedelta(days=7),
    )
    assert [d.practice_id for d in only.lists] == [practice]
    assert only.without_candidates == ["P-NONE"]
    assert only.lists[0].document["expires"] == "2026-07-08T08:00:00Z"
    patients = pl.read_parquet(received / "patients")
    first_token = full.lists[0].document["candidates"][0]["token"]
    no_token = patients.with_columns(
        practice_token=pl.when(pl.col("practice_token") == first_token)
        .then(None)
        .otherwise(pl.col("practice_token"))
    )
    partial = build_lists(result, no_token, key, issued=ISSUED, practices=[practice])
    assert partial.lists[0].without_token == 1
    assert first_token not in {c["token"] for c in partial.lists[0].document["candidates"]}
    assert (
        len(partial.lists[0].document["candidates"])
        == len(full.lists[0].document["candidates"]) - 1
    )


def test_issue13_list_ids_are_random_and_nothing_else_leaks(received, key):
    _, one = _lists("hypertension_sprint.p4dp", received, key)
    _, two = _lists("hypertension_sprint.p4dp", received, key)
    assert {d.list_id for d in one.lists}.isdisjoint({d.list_id for d in two.lists})
    patient_ids = set(pl.read_parquet(received / "patients")["patient_id"])
    for item in one.lists:
        text = str(item.document)
        assert not any(pid in text for pid in patient_ids)
