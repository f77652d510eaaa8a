"""Issue 13, ``p4dp data receive``: uploads checked whole, second pseudonym level, one
``patient_id`` per person across practices, atomic replacement of a practice's upload."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from candidates_helpers import first_level, national_ids, population_uploads

from matcher.candidates.keys import init_platform_keys, load_pseudonym_key, second_level
from matcher.candidates.receive import receive_uploads, store_of
from matcher.candidates.upload import UploadError, read_upload
from matcher.data.validate import validate_dataset
from matcher.errors import DataError


def _snapshot(path: Path) -> dict[str, str]:
    """Every file under ``path`` (following the data link) and the hash of its bytes."""
    root = path.resolve()
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_issue13_receive_merges_into_a_valid_data_directory(uploads, pseudonym_key, tmp_path):
    data = tmp_path / "data"
    summary = receive_uploads(list(uploads.values()), data, pseudonym_key)
    assert data.is_symlink()
    report = validate_dataset(data)
    assert report.ok, report.error_text()
    sent = sum(read_upload(u).tables["patients"].height for u in uploads.values())
    assert summary.patients == sent - 5  # the 5 moved patients are one person each
    assert summary.linked == 5
    for name in ("diagnoses", "prescriptions", "observations", "encounters"):
        rows = sum(read_upload(u).tables[name].height for u in uploads.values())
        assert pl.scan_parquet(data / name).select(pl.len()).collect().item() == rows


def test_issue13_same_patient_at_two_practices_gets_one_patient_id(
    population, uploads, pseudonym_key, side, tmp_path
):
    data = tmp_path / "data"
    receive_uploads(list(uploads.values()), data, pseudonym_key)
    ids = national_ids(population)
    first_practice = sorted(uploads)[0]
    movers = ids.filter(pl.col("practice_id") == first_practice).head(5)
    # the platform's patient_id for each mover, computed with every key (test only)
    expected = second_level(
        pseudonym_key, [first_level(side.authority, n) for n in movers["national_id"]]
    )
    patients = pl.read_parquet(data / "patients")
    assert patients["patient_id"].is_unique().all()
    assert set(expected) <= set(patients["patient_id"])
    received = pl.read_parquet(data / "received")
    both = received.filter(pl.col("patient_id").is_in(expected))
    assert both.height == 10
    assert (
        both.group_by("patient_id").agg(pl.col("practice_id").n_unique())["practice_id"].eq(2).all()
    )
    # each practice's token is kept; the merged row carries one of them
    assert both["practice_token"].n_unique() == 10
    merged = patients.filter(pl.col("patient_id").is_in(expected))
    assert merged.join(both, on=["patient_id", "practice_id", "practice_token"]).height == 5


def test_issue13_malformed_upload_refused_whole_and_data_unchanged(
    uploads, pseudonym_key, tmp_path
):
    data = tmp_path / "data"
    first, second = sorted(uploads)
    receive_uploads([uploads[first]], data, pseudonym_key)
    before = _snapshot(data)
    bad = tmp_path / "bad"
    shutil.copytree(uploads[second], bad)
    frame = pl.read_parquet(bad / "patients.parquet")
    frame.with_columns(sex=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("X")).otherwise("sex"))
    frame = frame.with_columns(
        sex=pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("X")).otherwise(pl.col("sex"))
    )
    frame.write_parquet(bad / "patients.parquet")
    with pytest.raises(UploadError, match="SHA-256 differs from the manifest"):
        receive_uploads([uploads[second], bad], data, pseudonym_key)
    # even with a manifest that matches, the contract check refuses it
    manifest = json.loads((bad / "manifest.json").read_text())
    digest = hashlib.sha256((bad / "patients.parquet").read_bytes()).hexdigest()
    manifest["tables"]["patients"]["sha256"] = digest
    (bad / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UploadError, match=r"column 'sex': 1 row with a sex outside F, M, U"):
        receive_uploads([uploads[second], bad], data, pseudonym_key)
    assert _snapshot(data) == before
    assert not [p for p in store_of(data).iterdir() if p.name.startswith(".building")]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda up: (up / "manifest.json").unlink(), "manifest.json: missing"),
        (lambda up: (up / "manifest.json").write_text("{"), r"manifest.json:1:2: not valid JSON"),
        (lambda up: (up / "notes.txt").write_text("x"), "notes.txt: not part of an upload"),
        (lambda up: (up / "encounters.parquet").unlink(), "encounters.parquet: missing"),
        (
            lambda up: (up / "diagnoses.parquet").write_bytes(
                (up / "diagnoses.parquet").read_bytes()[:100]
            ),
            "diagnoses.parquet: SHA-256 differs",
        ),
        (lambda up: _edit_manifest(up, rows=1), "patients.parquet: .* rows, the manifest says 1"),
        (lambda up: _edit_manifest(up, extra=True), "unknown field.*extra"),
        (lambda up: _edit_manifest(up, practice="../x"), "field 'practice_id' must be"),
        (lambda up: _edit_manifest(up, practice="P999"), "1,510 row.*another practice_id"),
    ],
)
def test_issue13_upload_format_checked(uploads, damage, message):
    upload = uploads[sorted(uploads)[0]]
    damage(upload)
    with pytest.raises(UploadError, match=message):
        read_upload(upload)


def _edit_manifest(upload: Path, *, rows=None, extra=False, practice=None) -> None:
    manifest = json.loads((upload / "manifest.json").read_text())
    if rows is not None:
        manifest["tables"]["patients"]["rows"] = rows
    if extra:
        manifest["extra"] = 1
    if practice is not None:
        manifest["practice_id"] = practice
    (upload / "manifest.json").write_text(json.dumps(manifest))


def test_issue13_patients_without_tokens_or_with_plain_ids_refused(uploads):
    upload = uploads[sorted(uploads)[0]]
    patients = pl.read_parquet(upload / "patients.parquet")
    patients.with_columns(
        practice_token=pl.when(pl.int_range(pl.len()) < 2).then(None).otherwise("practice_token"),
        patient_id=pl.when(pl.int_range(pl.len()) == 5)
        .then(pl.lit("1" * 13))
        .otherwise("patient_id"),
    ).write_parquet(upload / "patients.parquet")
    manifest = json.loads((upload / "manifest.json").read_text())
    digest = hashlib.sha256((upload / "patients.parquet").read_bytes()).hexdigest()
    manifest["tables"]["patients"]["sha256"] = digest
    (upload / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UploadError) as info:
        read_upload(upload)
    text = str(info.value)
    assert "2 row(s) with no practice token" in text
    assert "1 row(s) with a patient_id that is not a first-level pseudonym" in text


def test_issue13_rereceiving_a_practice_replaces_its_previous_upload(
    population, pseudonym_key, side, tmp_path
):
    data = tmp_path / "data"
    first_round = population_uploads(population, tmp_path / "round1", side)
    receive_uploads(list(first_round.values()), data, pseudonym_key)
    first, second = sorted(first_round)
    old_ids = set(pl.read_parquet(data / "received" / f"{first}.parquet")["patient_id"])
    second_part = (data / "diagnoses" / f"{second}.parquet").resolve().read_bytes()
    # the practice sends a new extract: 100 patients fewer, one diagnosis table emptied
    new = tmp_path / "round2" / first
    upload = read_upload(first_round[first])
    kept = upload.tables["patients"].tail(-100)
    from candidates_helpers import write_upload

    ids = national_ids(population)
    back = ids.with_columns(
        first=pl.Series([first_level(side.authority, n) for n in ids["national_id"]])
    )
    patients = kept.join(
        back.select("first", "national_id", "local_id"), left_on="patient_id", right_on="first"
    )
    events = {
        name: upload.tables[name]
        .join(back.select("first", "national_id"), left_on="patient_id", right_on="first")
        .filter(pl.col("national_id").is_in(patients["national_id"].implode()))
        for name in ("prescriptions", "observations", "encounters")
    }
    events["diagnoses"] = (
        upload.tables["diagnoses"].head(0).with_columns(national_id=pl.lit(None, pl.String))
    )
    write_upload(
        new, side, practice_id=first, centre_id=upload.centre_id, patients=patients, events=events
    )
    previous = data.resolve()
    summary = receive_uploads([new], data, pseudonym_key)
    assert summary.practices[0].replaced
    assert data.resolve() != previous and previous.exists()  # the old one kept for readers
    new_ids = set(pl.read_parquet(data / "received" / f"{first}.parquet")["patient_id"])
    assert len(new_ids) == len(old_ids) - 100 and new_ids < old_ids
    patients_now = pl.read_parquet(data / "patients")
    assert patients_now.filter(pl.col("practice_id") == first).height == len(new_ids)
    assert pl.read_parquet(data / "diagnoses" / f"{first}.parquet").height == 0
    assert (data / "diagnoses" / f"{second}.parquet").read_bytes() == second_part
    assert validate_dataset(data).ok
    receive_uploads([new], data, pseudonym_key)  # a third generation: the first is removed
    assert not previous.exists()


def test_issue13_receive_refuses_another_platform_key(uploads, pseudonym_key, tmp_path):
    data = tmp_path / "data"
    first, second = sorted(uploads)
    receive_uploads([uploads[first]], data, pseudonym_key)
    other = load_pseudonym_key(init_platform_keys(tmp_path / "other")["pseudonym"])
    with pytest.raises(DataError, match="pseudonyms of two keys do not link"):
        receive_uploads([uploads[second]], data, other)


def test_issue13_receive_refuses_a_foreign_directory_and_duplicates(
    uploads, pseudonym_key, tmp_path
):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "patients.parquet").write_text("x")
    first = uploads[sorted(uploads)[0]]
    with pytest.raises(DataError, match="not made by 'p4dp data receive'"):
        receive_uploads([first], foreign, pseudonym_key)
    with pytest.raises(DataError, match="given twice"):
        receive_uploads([first, first], tmp_path / "data", pseudonym_key)
    assert not os.path.lexists(tmp_path / "data")


def test_issue13_merge_of_one_patient_seen_at_two_practices():
    import datetime as dt

    from matcher.candidates.receive import merge_patients

    day = dt.date
    rows = pl.DataFrame(
        {
            "patient_id": ["x", "x", "y"],
            "birth_year": [1950, 1950, 1960],
            "birth_month": [3, 3, None],
            "sex": ["F", "F", "M"],
            "practice_id": ["OLD", "NEW", "OLD"],
            "centre_id": ["C1", "C2", "C1"],
            "registered_from": [day(2001, 1, 1), day(2019, 5, 1), day(2005, 1, 1)],
            "registered_to": [day(2019, 4, 30), None, None],
            "death_date": [None, None, None],
            "opted_out": [True, False, False],
            "practice_token": ["a" * 64, "b" * 64, "c" * 64],
            "__extract": [day(2026, 6, 30)] * 3,
        },
        schema_overrides={"birth_month": pl.Int8, "death_date": pl.Date, "birth_year": pl.Int32},
    )
    merged = merge_patients(rows).to_dicts()
    assert [m["patient_id"] for m in merged] == ["x", "y"]
    x = merged[0]
    assert (x["practice_id"], x["centre_id"], x["practice_token"]) == ("NEW", "C2", "b" * 64)
    assert x["registered_from"] == day(2001, 1, 1) and x["registered_to"] is None
    assert x["opted_out"] is True  # an objection at any practice counts
    assert merged[1]["practice_id"] == "OLD"


def test_issue13_one_receipt_at_a_time_and_killed_builds_cleaned(uploads, pseudonym_key, tmp_path):
    import fcntl

    data = tmp_path / "data"
    first, second = sorted(uploads)
    receive_uploads([uploads[first]], data, pseudonym_key)
    store = store_of(data)
    stale = store / ".building-killed"
    stale.mkdir()
    (stale / "half.parquet").write_bytes(b"x")
    fd = os.open(store / ".lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(DataError, match="another 'p4dp data receive' is writing"):
            receive_uploads([uploads[second]], data, pseudonym_key)
    finally:
        os.close(fd)
    summary = receive_uploads([uploads[second]], data, pseudonym_key)
    assert summary.practices_total == 2 and not stale.exists()
