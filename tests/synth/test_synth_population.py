"""Structure of the synthetic population: schema, practices, registration, tokens."""

from __future__ import annotations

import hashlib
import hmac
import json

import polars as pl

from matcher.data.schema import TABLES
from matcher.synth.writer import MANIFEST


def test_every_table_has_the_contract_columns_and_types(population) -> None:
    for name, table in TABLES.items():
        frame = getattr(population, name)
        assert frame.schema == pl.Schema(table.schema()), name
        for column in table.columns:
            if not column.nullable:
                assert frame[column.name].null_count() == 0, (name, column.name)


def test_patients_are_unique_and_events_belong_to_them(population) -> None:
    p = population.patients
    assert p.height == population.summary.patients
    assert p["patient_id"].n_unique() == population.summary.patients
    assert p["patient_id"].str.contains(r"^[0-9a-f]{16}$").all()
    ids = p["patient_id"].implode()
    for name in ("diagnoses", "prescriptions", "observations", "encounters"):
        events = getattr(population, name)
        assert events["patient_id"].is_in(ids).all(), name


def test_events_stay_inside_window_and_follow_up(population) -> None:
    follow = population.patients.select(
        "patient_id",
        start=pl.max_horizontal(
            pl.col("registered_from").fill_null(pl.date(2014, 1, 1)), pl.date(2014, 1, 1)
        ),
        end=pl.min_horizontal(pl.col("registered_to"), pl.col("death_date"), pl.date(2026, 6, 30)),
    )
    for name in ("diagnoses", "prescriptions", "observations", "encounters"):
        events = getattr(population, name).join(follow, on="patient_id")
        outside = events.filter(
            (pl.col("date") < pl.col("start")) | (pl.col("date") > pl.col("end"))
        )
        assert outside.height == 0, name


def test_events_are_sorted_by_patient_then_date_within_chunks(population) -> None:
    order = population.patients.with_row_index("pos").select("patient_id", "pos")
    obs = population.observations.join(order, on="patient_id", maintain_order="left")
    assert (
        obs.select((pl.col("pos").diff() >= 0) | pl.col("pos").diff().is_null()).to_series().all()
    )
    same = obs.filter(pl.col("pos").diff() == 0)
    assert same.height > 0
    diffs = obs.select(
        ok=(pl.col("pos").diff() != 0) | (pl.col("date").diff().dt.total_days() >= 0)
    )
    assert diffs["ok"].fill_null(True).all()


def test_practice_and_centre_counts(population) -> None:
    p = population.patients
    assert p["practice_id"].n_unique() == round(population.summary.patients / 1500)
    assert population.summary.practices == round(population.summary.patients / 1500)
    assert p["centre_id"].n_unique() == min(35, population.summary.practices)
    assert p.group_by("practice_id").agg(pl.col("centre_id").n_unique())["centre_id"].max() == 1
    sizes = p.group_by("practice_id").len()["len"]
    assert sizes.max() > 1.3 * sizes.min()  # practice sizes vary


def test_registration_deaths_opt_out_and_birth_month(population) -> None:
    p = population.patients
    assert 0.01 <= p["opted_out"].mean() <= 0.02
    assert 0.05 <= p["birth_month"].is_null().mean() <= 0.10
    assert p["birth_month"].drop_nulls().is_between(1, 12).all()
    assert set(p["sex"].unique()) <= {"F", "M", "U"}
    dead = p.filter(pl.col("death_date").is_not_null())
    assert 0.02 <= dead.height / p.height <= 0.12
    assert (dead["registered_to"] == dead["death_date"]).all()
    left = p.filter(pl.col("registered_to").is_not_null() & pl.col("death_date").is_null())
    assert 0.05 <= left.height / p.height <= 0.15
    recent = p.filter(pl.col("registered_from") >= pl.date(2014, 1, 1)).height / p.height
    assert 0.1 <= recent <= 0.6
    ok = p.filter(pl.col("registered_from").is_not_null())
    assert (ok["registered_from"].dt.year() >= ok["birth_year"]).all()
    # women outnumber men at old ages
    old = p.filter(pl.col("birth_year") <= 1941)
    assert (old["sex"] == "F").mean() > 0.55


def test_tokens_are_unique_and_recomputable_from_the_keys(population) -> None:
    keys = json.loads(population.keys.read_text())["keys"]
    local = pl.read_parquet(population.local_ids)
    p = population.patients.join(local, on=["patient_id", "practice_id"])
    assert p.height == population.summary.patients
    assert p["practice_token"].n_unique() == population.summary.patients
    for row in p.head(300).iter_rows(named=True):
        key = bytes.fromhex(keys[row["practice_id"]])
        expected = hmac.new(key, b"v1" + row["local_id"].encode(), hashlib.sha256).hexdigest()
        assert row["practice_token"] == expected
    assert len(set(keys.values())) == len(keys)
    assert all(len(bytes.fromhex(k)) == 32 for k in keys.values())


def test_keys_never_written_into_the_data_set(population) -> None:
    keys = json.loads(population.keys.read_text())["keys"]
    blob = b"".join(f.read_bytes() for f in population.dir.iterdir())
    for key in list(keys.values())[:3]:
        assert key.encode() not in blob and bytes.fromhex(key) not in blob
    manifest = json.loads((population.dir / MANIFEST).read_text())
    assert manifest["rows"]["patients"] == population.summary.patients
    assert "keys" not in manifest
