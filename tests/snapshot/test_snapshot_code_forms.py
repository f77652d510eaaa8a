"""A snapshot stores codes in their normal form: every spelling lands in one code range."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from matcher.data.loader import load_dataset
from matcher.snapshot import ingest, open_snapshot
from tests.snapshot.conftest import respelled_icd10


def _respell(raw_dir: Path, out: Path) -> Path:
    """A copy of ``raw_dir`` whose ICD-10 codes are undotted, lower case or padded in turn."""
    out.mkdir()
    for file in raw_dir.glob("*.parquet"):
        frame = pl.read_parquet(file)
        if file.stem == "diagnoses":
            frame = frame.with_columns(respelled_icd10())
        frame.write_parquet(out / file.name)
    return out


def test_ingest_writes_codes_in_normal_form(raw_dir: Path, tmp_path: Path) -> None:
    spelled_dir = _respell(raw_dir, tmp_path / "spelled")
    assert (
        not pl.read_parquet(spelled_dir / "diagnoses.parquet")["code"]
        .str.contains(r"^[A-Z]\d\d\.\d$")
        .all()
    )
    ingest(spelled_dir, tmp_path / "snap")
    snap = open_snapshot(tmp_path / "snap")
    clean = load_dataset(raw_dir)
    wanted = {"icd10": ["E11.9", "I10", "E11"]}
    got = snap.events("diagnoses", wanted).collect()
    expected = clean.events("diagnoses", wanted).collect()
    assert got.height == expected.height > 0
    assert set(got["code"].cast(pl.String)) == set(expected["code"])
    stored = snap.diagnoses.collect()["code"].cast(pl.String)
    assert set(stored) == set(clean.diagnoses.collect()["code"])
