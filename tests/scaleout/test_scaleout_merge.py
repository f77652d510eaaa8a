"""Issue 17 after the merge with main: what the engine gained since (index date from the end of
the data, rows per code set, pooled single-practice centres) gives the same answers on a
partitioned snapshot as in one process.

Each test builds its own small variant of the shared population (no extraction date; centres
whose practices fall into different parts).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest
from conftest import examples
from helpers import INDEX, SECRET

from criteria_dsl import compile_text
from matcher.data.extract_date import data_end
from matcher.engine.evaluate import evaluate_many
from matcher.feasibility import FeasibilityQuery, build_raw
from matcher.feasibility.dimensions import POOLED_CENTRES
from matcher.scaleout import count_parts, evaluate_parts
from matcher.snapshot import ingest
from matcher.snapshot.partition import ingest_partitioned, open_partitioned, partition_of

UNDATED = compile_text(
    'study "UNDATED" version 1\n'
    "inclusion\n"
    "  adult: age at index >= 18\n"
    "  measured: latest lab loinc 2160-0 within 6 months before index > 0.5 mg/dL\n"
)


def _variant(raw_dir: Path, out: Path, *, extract: bool = True) -> Path:
    shutil.copytree(raw_dir, out)
    if not extract:
        (out / "extract.json").unlink()
    return out


def _one_late_event(raw: Path, day: dt.date) -> None:
    """Move the first encounter to ``day``: only its patient's part ends there."""
    path = raw / "encounters.parquet"
    encounters = pl.read_parquet(path)
    kind = encounters.schema["date"]
    late = pl.lit(day).cast(kind) if kind != pl.String else pl.lit(day.isoformat())
    first = pl.int_range(pl.len()) == 0
    encounters = encounters.with_columns(
        pl.when(first).then(late).otherwise(pl.col("date")).alias("date")
    )
    encounters.write_parquet(path)


def test_issue17_index_date_defaults_to_the_end_of_the_whole_partitioned_snapshot(
    raw_dir, tmp_path
):
    raw = _variant(raw_dir, tmp_path / "raw", extract=False)  # the end: the latest event
    _one_late_event(raw, dt.date(2026, 9, 30))
    ingest(raw, tmp_path / "snap")
    ingest_partitioned(raw, tmp_path / "parts", partitions=7)
    whole = data_end(tmp_path / "snap")
    assert data_end(open_partitioned(tmp_path / "parts")) == whole
    assert whole.date == dt.date(2026, 9, 30)
    ends = {m.extraction_date for m in open_partitioned(tmp_path / "parts").part_manifests()}
    assert len(ends) > 1  # each part alone would have used its own patients' last event
    [ref] = evaluate_many([UNDATED], tmp_path / "snap")
    [rows] = evaluate_parts([UNDATED], tmp_path / "parts")
    [counted] = count_parts([UNDATED], tmp_path / "parts")
    assert ref.index_date == rows.index_date == counted.index_date == whole.date
    assert rows.patients.equals(ref.patients.sort("patient_id"))
    assert counted.counts == ref.counts


def test_issue17_code_rows_are_summed_over_the_parts(plain_snapshot, partitioned):
    reference = evaluate_many(examples(), plain_snapshot, index_date=INDEX)
    rows = evaluate_parts(examples(), partitioned[7], index_date=INDEX)
    counted = count_parts(examples(), partitioned[7], index_date=INDEX)
    assert any(r.code_rows for r in reference)
    for ref, got_rows, got_counts in zip(reference, rows, counted, strict=True):
        assert got_rows.code_rows == ref.code_rows == dict(got_counts.code_rows)
        for min_rows in (1, 10, 10_000):
            expected = ref.code_set_warnings(min_rows)
            assert got_counts.code_set_warnings(min_rows) == expected
            assert got_rows.code_set_warnings(min_rows) == expected


def _centres(raw: Path) -> None:
    """Three centres: C1 of practices P1 and P2 (P2: 3 patients, so most parts see only P1),
    C2 of P3 alone, C3 of P4 alone."""
    path = raw / "patients.parquet"
    patients = pl.read_parquet(path)
    row = pl.int_range(pl.len())
    practice = (
        pl.when(row < 3)
        .then(pl.lit("P2"))
        .when(row < 300)
        .then(pl.lit("P1"))
        .when(row < 450)
        .then(pl.lit("P3"))
        .otherwise(pl.lit("P4"))
    )
    centre = pl.when(row < 300).then(pl.lit("C1")).when(row < 450).then(pl.lit("C2"))
    patients = patients.with_columns(
        practice.alias("practice_id"), centre.otherwise(pl.lit("C3")).alias("centre_id")
    )
    patients.write_parquet(path)


def test_issue17_single_practice_centres_are_pooled_after_combining(raw_dir, tmp_path):
    raw = _variant(raw_dir, tmp_path / "raw")
    _centres(raw)
    ingest(raw, tmp_path / "snap")
    ingest_partitioned(raw, tmp_path / "parts", partitions=7)
    patients = pl.read_parquet(raw / "patients.parquet")
    parts_of_p2 = set(partition_of(patients.filter(pl.col("practice_id") == "P2")["patient_id"], 7))
    assert len(parts_of_p2) < 7  # some parts see C1 with one practice only
    query = FeasibilityQuery(by=("centre", "sex"))
    reference = evaluate_many(examples(), tmp_path / "snap", index_date=INDEX)
    counted = count_parts(
        examples(),
        tmp_path / "parts",
        index_date=INDEX,
        query=query,
        sketch_secret=SECRET,
        dims=("centre", "sex", "age_band"),
    )
    for ref, got in zip(reference, counted, strict=True):
        expected = build_raw(ref, query, with_keys=False, sketch_secret=SECRET)
        assert build_raw(got, query, with_keys=False, sketch_secret=SECRET) == expected
        for by in (("centre",), ("centre", "age_band")):
            plain = FeasibilityQuery(by=by)
            assert build_raw(got, plain, with_keys=False) == build_raw(ref, plain, with_keys=False)
        if ref.counts.base:
            assert set(expected.breakdowns["centre"]) <= {"C1", POOLED_CENTRES, "unknown"}
            assert POOLED_CENTRES in expected.breakdowns["centre"]


@pytest.mark.parametrize("parts", [2, 7])
def test_issue17_a_patient_file_per_part_carries_the_whole_snapshot_id(
    plain_snapshot, partitioned, tmp_path, parts
):
    from matcher.scaleout import write_parts

    [written] = write_parts(examples()[:1], partitioned[parts], tmp_path / "rows", index_date=INDEX)
    whole = open_partitioned(partitioned[parts]).snapshot_id
    for n, path in enumerate(sorted(written.files)):
        metadata = pl.read_parquet_metadata(path)
        assert metadata["data_snapshot"] == whole == written.data_snapshot
        assert metadata["part"] == str(n) and metadata["parts"] == str(parts)
        assert metadata["index_date"] == INDEX.isoformat()


def test_issue11_item10_a_pool_of_one_practice_is_widened_alike_on_parts(raw_dir, tmp_path):
    """C1 of P1 and P2, C2 of P3 and P4 (smaller), C3 of P5 alone: the pool would be P5's
    count, so C2 joins it, after combining the parts exactly as on one table."""
    raw = _variant(raw_dir, tmp_path / "raw")
    path = raw / "patients.parquet"
    patients = pl.read_parquet(path)
    row = pl.int_range(pl.len())
    practice = (
        pl.when(row < 150).then(pl.lit("P1")).when(row < 300).then(pl.lit("P2"))
        .when(row < 350).then(pl.lit("P3")).when(row < 400).then(pl.lit("P4"))
        .otherwise(pl.lit("P5"))
    )  # fmt: skip
    centre = pl.when(row < 300).then(pl.lit("C1")).when(row < 400).then(pl.lit("C2"))
    patients.with_columns(
        practice.alias("practice_id"), centre.otherwise(pl.lit("C3")).alias("centre_id")
    ).write_parquet(path)
    ingest(raw, tmp_path / "snap")
    ingest_partitioned(raw, tmp_path / "parts", partitions=7)
    query = FeasibilityQuery(by=("centre",))
    reference = evaluate_many(examples(), tmp_path / "snap", index_date=INDEX)
    counted = count_parts(examples(), tmp_path / "parts", index_date=INDEX, query=query)
    for ref, got in zip(reference, counted, strict=True):
        expected = build_raw(ref, query, with_keys=False)
        assert build_raw(got, query, with_keys=False) == expected
        if ref.counts.base:
            assert "C2" not in expected.breakdowns["centre"]
            assert "C3" not in expected.breakdowns["centre"]
