"""Issue 13, item 1: the whole loop through the real CLI, in both export formats.

synth with practice exports → ``practice extract`` (each practice) → ``keys init`` →
``data receive`` → ``evaluate`` → ``candidates`` → ``practice reidentify`` finds exactly the
patients the engine lists for each practice, with their statuses and rules; a patient
exported by two practices gets one ``patient_id``; ``practice feedback`` →
``candidates feedback`` adds up what the practices sent back.

The test knows every key (it plays the practices, the authority and the platform at once), so
it can recompute each patient's ``patient_id`` from the export and check the platform's work.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from criteria_dsl import compile_file
from matcher.candidates.build import rule_infos
from matcher.candidates.keys import load_pseudonym_key, second_level
from matcher.cli import main
from matcher.practice.keys import first_level_pseudonyms, load_key, normalise_national_id
from matcher.practice.reidentify import STATUS_TEXT, rule_text

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STUDY = EXAMPLES / "hypertension_sprint.p4dp"
INDEX = "2026-06-30"
PRACTICES = ("PR0001", "PR0002")


def _run(*args: object) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (args, result.output)
    assert "Traceback" not in result.output
    return result.output


def _export_ids(practices, practice: str, platform_key) -> pl.DataFrame:
    """The practice's own patients (local id, national id) with the patient_id the platform
    should give them: second level over first level, recomputed here with every key."""
    authority = load_key(practices.authority_path, "authority")
    patients = pl.read_csv(practices.export(practice, "csv") / "patients.csv", infer_schema=False)
    first = first_level_pseudonyms(authority, map(normalise_national_id, patients["national_id"]))
    return patients.select("local_id", "national_id").with_columns(
        patient_id=pl.Series(second_level(platform_key, first))
    )


@pytest.fixture(scope="module", params=["csv", "fhir"])
def loop(request, practices, tmp_path_factory) -> dict:
    """The platform's and the practices' commands, run in order, in one export format."""
    fmt = request.param
    tmp_path = tmp_path_factory.mktemp(f"loop-{fmt}")
    ledger = tmp_path / "ledger.sqlite"
    _run("ledger", "init", "--ledger", ledger)
    for practice in PRACTICES:
        _run("practice", "extract", practices.export(practice, fmt),
             "--key", practices.key_path(practice), "--authority-key", practices.authority_path,
             "--out", tmp_path / "uploads" / practice)  # fmt: skip
    keys = tmp_path / "platform-keys"
    _run("keys", "init", "--out", keys)
    data = tmp_path / "data"
    received = _run("data", "receive", *(tmp_path / "uploads" / p for p in PRACTICES),
                    "--into", data, "--key", keys / "platform-pseudonym.key")  # fmt: skip
    results = tmp_path / "results.parquet"
    _run("evaluate", STUDY, "--data", data, "--out", results, "--index-date", INDEX,
         "--ledger", ledger)  # fmt: skip
    signing = keys / "platform-signing.key"
    issued = _run("candidates", "issue", STUDY, "--data", data, "--out", tmp_path / "lists",
                  "--signing-key", signing, "--index-date", INDEX, "--ledger", ledger)  # fmt: skip
    return {
        "fmt": fmt,
        "tmp": tmp_path,
        "keys": keys,
        "data": data,
        "results": pl.read_parquet(results),
        "received": received,
        "issued": issued,
        "platform_key": load_pseudonym_key(keys / "platform-pseudonym.key"),
        "ledger": ledger,
    }


def _reidentify(practices, loop, practice: str, *extra: object) -> str:
    (listed,) = (loop["tmp"] / "lists" / practice).glob("*.json")
    return _run("practice", "reidentify", listed, "--key", practices.key_path(practice),
                "--export", practices.export(practice, loop["fmt"]),
                "--public-key", loop["keys"] / "platform-signing.pub", *extra)  # fmt: skip


def test_issue13_item1_round_trip_reidentifies_exactly_the_engine_candidates(practices, loop):
    study = compile_file(STUDY)
    infos = {r.name: r for r in rule_infos(study)}
    names = [r.name for r in study.rules]
    results = loop["results"]
    statuses_seen = set()
    for practice in PRACTICES:
        ids = _export_ids(practices, practice, loop["platform_key"])
        engine = results.filter(
            pl.col("practice_id") == practice,
            pl.col("verdict").cast(pl.String).is_in(["eligible", "possibly_eligible"]),
        )
        expected = engine.join(ids, on="patient_id", how="left")
        assert expected["local_id"].null_count() == 0  # every candidate is in the export
        table = _reidentify(practices, loop, practice, "--format", "csv")
        rows = list(csv.DictReader(io.StringIO(table)))
        assert len(rows) == engine.height > 0
        assert sorted(r["local_id"] for r in rows) == sorted(expected["local_id"])
        by_local = {r["local_id"]: r for r in rows}
        for patient in expected.iter_rows(named=True):
            shown = by_local[patient["local_id"]]
            verdict = str(patient["verdict"])
            statuses_seen.add(verdict)
            assert shown["status"] == STATUS_TEXT[verdict]
            unknown = [r for r in names if patient[r] is None]
            met = [r for r in names if patient[r] is not None]
            assert shown["rules_to_verify"] == "; ".join(rule_text(infos[r]) for r in unknown)
            assert shown["rules_met"] == "; ".join(rule_text(infos[r]) for r in met)
            assert (verdict == "eligible") == (not unknown)
        # the terminal table shows the rule descriptions as written (item 4)
        terminal = _reidentify(practices, loop, practice)
        assert f"{engine.height} of {engine.height} candidates found" in terminal
        cells = [line.split("│")[6] for line in terminal.splitlines() if line.startswith("│")]
        met_column = re.sub(r"\s+", "", "".join(cells))  # the "rules met" cells, lines joined
        assert "systolic([thelatestvalue" in met_column and "130mm[Hg]]AND[NOT[" in met_column
    assert statuses_seen == {"eligible", "possibly_eligible"}
    assert "2 list(s), recorded in the ledger" in loop["issued"]


def test_issue13_item1_a_patient_exported_by_two_practices_gets_one_patient_id(practices, loop):
    ids = {p: _export_ids(practices, p, loop["platform_key"]) for p in PRACTICES}
    shared = ids["PR0001"].join(ids["PR0002"], on="national_id", suffix="_b")
    assert shared.height == 5  # the synthetic transfers
    assert (shared["patient_id"] == shared["patient_id_b"]).all()
    assert (shared["local_id"] != shared["local_id_b"]).all()
    data = loop["data"]
    patients = pl.read_parquet(data / "patients" / "*.parquet")
    assert patients["patient_id"].n_unique() == patients.height
    assert patients.filter(pl.col("patient_id").is_in(shared["patient_id"].to_list())).height == 5
    for practice in PRACTICES:
        received = pl.read_parquet(data / "received" / f"{practice}.parquet")
        assert set(shared["patient_id"]) <= set(received["patient_id"])
        assert set(received["patient_id"]) == set(ids[practice]["patient_id"])
    assert "5 patient(s) seen at more than one practice, linked" in loop["received"]


def test_issue13_item1_practice_feedback_goes_into_the_funnel(practices, loop):
    tmp, returned, listed_total = loop["tmp"] / "returns", [], 0
    tmp.mkdir()
    for number, practice in enumerate(PRACTICES):
        (listed,) = (loop["tmp"] / "lists" / practice).glob("*.json")
        candidates = json.loads(listed.read_text())["candidates"]
        listed_total += len(candidates)
        outcomes = tmp / f"outcomes-{practice}.csv"
        lines = ["row,outcome,failed_rule", "1,enrolled,", "2,not_eligible,systolic"]
        outcomes.write_text("\n".join([*lines, f"{3 + number},declined,"]) + "\n")
        feedback = tmp / f"feedback-{practice}.json"
        _run("practice", "feedback", listed, "--outcomes", outcomes, "--out", feedback)
        returned.append(feedback)
        sent = feedback.read_text()
        assert not [c["token"] for c in candidates if c["token"] in sent]
    funnel = json.loads(_run("candidates", "feedback", *returned, "--study", STUDY,
                             "--role", "steward", "--format", "json",
                             "--ledger", loop["ledger"]))  # fmt: skip
    assert funnel["listed"] == listed_total
    assert funnel["outcomes"]["enrolled"] == 2 and funnel["outcomes"]["declined"] == 2
    assert funnel["outcomes"]["not_eligible"] == 2
    assert funnel["failed_rules"] == {"systolic": 2}
