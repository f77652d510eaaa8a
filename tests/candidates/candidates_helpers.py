"""Test helpers: practice uploads (``p4dp-upload`` v1) built from a synthetic population.

They play the practice's part (the practice kit is tested on its own): each patient gets a
made-up national identifier and local record number, the first pseudonym level is computed
with the authority's secret and the token with the practice's secret, exactly as the upload
contract says, with the kit's own functions (:mod:`matcher.practice.keys`). The secrets stay
in the test (never in what the platform receives).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from matcher.data.schema import EVENT_TABLES, TABLES
from matcher.practice.keys import PSEUDONYM_PREFIX as PSEUDONYM_PREFIX_BYTES
from matcher.practice.keys import first_level_pseudonym as first_level
from matcher.practice.keys import practice_token

PSEUDONYM_PREFIX = PSEUDONYM_PREFIX_BYTES.decode()


@dataclass
class PracticeSide:
    """The secrets and truth of the practices, known to the test only."""

    authority: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    practice_keys: dict[str, bytes] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    key_version: str = "v1"

    def key(self, practice: str) -> bytes:
        self.key_ids.setdefault(practice, secrets.token_hex(8))
        return self.practice_keys.setdefault(practice, secrets.token_bytes(32))

    def secrets_bytes(self) -> list[bytes]:
        return [self.authority, *self.practice_keys.values()]


def national_ids(population: Path) -> pl.DataFrame:
    """synth ``patient_id`` → a made-up national identifier (13 digits) and local id."""
    patients = pl.read_parquet(population / "patients.parquet")
    return patients.select(
        "patient_id",
        "practice_id",
        national_id=(pl.int_range(pl.len()) + 1_000_000_000_000).cast(pl.String),
        local_id=pl.lit("L") + (pl.int_range(pl.len()).over("practice_id") + 1).cast(pl.String),
    )


def write_upload(
    out: Path,
    side: PracticeSide,
    *,
    practice_id: str,
    centre_id: str,
    patients: pl.DataFrame,
    events: dict[str, pl.DataFrame],
    extract_date: str = "2026-06-30",
) -> Path:
    """Write an upload. ``patients`` and ``events`` carry ``national_id`` (and patients
    ``local_id``) instead of ``patient_id``; the helper pseudonymises them."""
    key = side.key(practice_id)
    ids = patients.select("national_id", "local_id").unique("national_id")
    ids = ids.with_columns(
        patient_id=pl.Series([first_level(side.authority, n) for n in ids["national_id"]]),
        practice_token=pl.Series(
            [practice_token(key, side.key_version, loc) for loc in ids["local_id"]]
        ),
    )
    out.mkdir(parents=True)
    tables = {
        "patients": patients.drop("patient_id", "practice_token", strict=False)
        .join(ids.select("national_id", "patient_id", "practice_token"), on="national_id")
        .with_columns(practice_id=pl.lit(practice_id), centre_id=pl.lit(centre_id)),
        **{
            name: events[name]
            .drop("patient_id", strict=False)
            .join(ids.select("national_id", "patient_id"), on="national_id")
            for name in EVENT_TABLES
            if name in events  # issue 18: an optional table may be left out
        },
    }
    entries = {}
    for name, frame in tables.items():
        file = out / f"{name}.parquet"
        frame.select(TABLES[name].required_names()).write_parquet(file)
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        entries[name] = {"rows": frame.height, "sha256": digest}
    manifest = {
        "format": "p4dp-upload",
        "version": 1,
        "practice_id": practice_id,
        "centre_id": centre_id,
        "key_id": side.key_ids[practice_id],
        "key_version": side.key_version,
        "extract_date": extract_date,
        "created": "2026-06-30T12:00:00Z",
        "tables": entries,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def population_uploads(
    population: Path, out: Path, side: PracticeSide, *, moved: int = 0
) -> dict[str, Path]:
    """One upload per practice of a synthetic population.

    ``moved``: that many patients of the first practice are also registered at the second
    (same national id, a new local id there, their events copied), as when a patient changes
    practice and both records are extracted.
    """
    ids = national_ids(population)
    tables = {name: pl.read_parquet(population / f"{name}.parquet") for name in TABLES}
    tables = {
        name: frame.join(ids.select("patient_id", "national_id", "local_id"), on="patient_id")
        for name, frame in tables.items()
    }
    practices = tables["patients"].select("practice_id", "centre_id").unique().sort("practice_id")
    per_practice: dict[str, tuple[str, pl.DataFrame]] = {
        p: (c, tables["patients"].filter(pl.col("practice_id") == p)) for p, c in practices.rows()
    }
    names = list(per_practice)
    if moved:
        source, target = names[0], names[1]
        centre, target_patients = per_practice[target]
        movers = (
            per_practice[source][1]
            .head(moved)
            .with_columns(local_id=pl.lit("M") + pl.int_range(pl.len()).cast(pl.String))
        )
        per_practice[target] = (centre, pl.concat([target_patients, movers]))
    uploads = {}
    for practice, (centre, patients) in per_practice.items():
        wanted = patients["national_id"].implode()
        events = {
            name: tables[name].filter(pl.col("national_id").is_in(wanted)) for name in EVENT_TABLES
        }
        uploads[practice] = write_upload(
            out / practice,
            side,
            practice_id=practice,
            centre_id=centre,
            patients=patients,
            events=events,
        )
    return uploads
