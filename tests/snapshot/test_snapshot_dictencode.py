"""Issue 16 item 4 (ingest time): event tables stored as dictionary-encoded Parquet are encoded
from their dictionary pages (matcher.snapshot.dictencode), and the snapshot is byte for byte
the one of the Polars encoding; files that do not allow it take the Polars way."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from matcher.data.loader import load_dataset
from matcher.data.schema import EVENT_TABLES
from matcher.errors import DataError
from matcher.snapshot import dictencode, ingest
from tests.snapshot.conftest import respelled_icd10

INGEST = importlib.import_module("matcher.snapshot.ingest")
"""The ``matcher.snapshot.ingest`` module (the package exports its function of that name)."""


def _rewrite(
    raw_dir: Path,
    out: Path,
    *,
    dictionary: bool = True,
    parts: int = 1,
    row_group_size: int = 700,
    respell: bool = False,
    orphan: bool = False,
) -> Path:
    """A copy of ``raw_dir`` written again by pyarrow: small row groups (several per file),
    optionally as a directory of ``parts`` files, plain-encoded, with ICD-10 codes respelled
    (undotted, lower case, padded) or with one diagnosis of an unknown patient."""
    out.mkdir()
    for file in raw_dir.iterdir():
        if file.suffix != ".parquet":
            shutil.copy(file, out / file.name)
            continue
        frame = pl.read_parquet(file)
        if file.stem == "diagnoses" and respell:
            frame = frame.with_columns(respelled_icd10())
        if file.stem == "diagnoses" and orphan:
            frame = pl.concat([frame, frame.head(1).with_columns(patient_id=pl.lit("nobody"))])
        table = frame.to_arrow()
        if file.stem == "patients" or parts == 1:
            pq.write_table(
                table, out / file.name, row_group_size=row_group_size, use_dictionary=dictionary
            )
            continue
        folder = out / file.stem
        folder.mkdir()
        step = -(-table.num_rows // parts)
        for i in range(parts):
            pq.write_table(
                table.slice(i * step, step),
                folder / f"part-{i}.parquet",
                row_group_size=row_group_size,
                use_dictionary=dictionary,
            )
    return out


def _both_ways(raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ingest ``raw`` by path (dictionary pages where possible) and as a loaded data set (the
    Polars encoding); assert the same snapshot; return the tables read through dictionaries."""
    used: list[str] = []
    real = dictencode.dictionary_encoding

    def spy(table: str, *args: object, **kwargs: object) -> object:
        found = real(table, *args, **kwargs)  # type: ignore[arg-type]
        if found is not None:
            used.append(table)
        return found

    monkeypatch.setattr(INGEST, "dictionary_encoding", spy)
    by_path = ingest(raw, tmp_path / "by-path", chunk_rows=5_000)
    by_frames = ingest(load_dataset(raw), tmp_path / "by-frames", chunk_rows=5_000)
    assert by_path.files == by_frames.files
    assert by_path.tables == by_frames.tables
    assert by_path.data_snapshot == by_frames.data_snapshot
    return used


def test_issue16_item4_dictionary_encoding_writes_the_same_snapshot(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _rewrite(raw_dir, tmp_path / "raw")
    used = _both_ways(raw, tmp_path, monkeypatch)
    provided = [t for t in EVENT_TABLES if (raw / f"{t}.parquet").exists()]
    assert {"diagnoses", "prescriptions", "observations", "encounters"} <= set(provided)
    assert used == provided


def test_issue16_item4_dictionary_encoding_respells_codes_and_reads_parts(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _rewrite(raw_dir, tmp_path / "raw", parts=3, row_group_size=300, respell=True)
    used = _both_ways(raw, tmp_path, monkeypatch)
    assert "diagnoses" in used and "encounters" in used
    index = pl.read_ipc(tmp_path / "by-path" / "diagnoses.codes.arrow")
    icd10 = index.filter(pl.col("system") == "icd10")["code"]
    assert icd10.len() > 0 and icd10.str.contains(r"^[A-Z]\d\d(\.\d+)?$").all()


def test_issue16_item4_plain_parquet_takes_the_polars_way(
    raw_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = _rewrite(raw_dir, tmp_path / "raw", dictionary=False)
    assert _both_ways(raw, tmp_path, monkeypatch) == []


def test_issue16_item4_dictionary_encoding_refuses_an_unknown_patient(
    raw_dir: Path, tmp_path: Path
) -> None:
    raw = _rewrite(raw_dir, tmp_path / "raw", orphan=True)
    with pytest.raises(DataError, match=r"diagnoses: 1 rows whose patient_id is not in patients"):
        ingest(raw, tmp_path / "snap", validate=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # nothing half-written


def test_issue16_item4_patient_keys_are_positions_among_sorted_pseudonyms() -> None:
    pseudonyms = pl.Series(sorted(f"p{i:04d}" for i in range(0, 2000, 3)))
    values = pl.Series(["p0003", "p0001", "zzz", "p1998", "", "p0000"])
    keys = dictencode.patient_keys(values, pseudonyms).to_list()
    expected = [pseudonyms.to_list().index(v) if v in pseudonyms else None for v in values]
    assert keys == expected
    assert dictencode.patient_keys(values, pl.Series([], dtype=pl.String)).null_count() == 6
