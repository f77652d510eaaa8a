"""``events(table, codes)`` on a snapshot returns exactly the rows a filter on raw data keeps."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.data.loader import Dataset
from matcher.snapshot import SnapshotDataset, open_snapshot
from matcher.snapshot.encode import CODED_TABLES
from tests.snapshot.conftest import canonical, to_raw_form


@pytest.fixture(scope="module")
def snap(snap_dir: Path) -> SnapshotDataset:
    return open_snapshot(snap_dir)


@pytest.fixture(scope="module")
def frames(raw: Dataset, snap: SnapshotDataset) -> dict[str, pl.DataFrame]:
    out = {name: raw.table(name).collect() for name in CODED_TABLES}
    out["__patients"] = snap.patients.collect()
    return out


def plain_filter(frame: pl.DataFrame, codes: dict[str, list[str]]) -> pl.DataFrame:
    """The obvious answer, computed row by row over (system, code) pairs."""
    wanted = {(s, c) for s, values in codes.items() for c in values}
    keep = [(s, c) in wanted for s, c in frame.select("system", "code").iter_rows()]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


ABSENT = [("icd10", "Z99.99"), ("atc", "X00XX00"), ("loinc", "0000-0"), ("nosuch", "E11.9")]


@st.composite
def code_sets(draw: st.DrawFn, pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    chosen = draw(st.lists(st.sampled_from(pairs + ABSENT), max_size=12))
    out: dict[str, list[str]] = {}
    for system, code in chosen:
        out.setdefault(system, []).append(code)
    if draw(st.booleans()):
        out.setdefault(draw(st.sampled_from(["icd10", "atc", "loinc"])), [])
    return out


@pytest.mark.parametrize("table", CODED_TABLES)
def test_events_match_raw_filter(
    table: str, snap: SnapshotDataset, raw: Dataset, frames: dict[str, pl.DataFrame]
) -> None:
    raw_frame = frames[table]
    pairs = sorted(set(raw_frame.select("system", "code").iter_rows()))

    @given(code_sets(pairs))
    def check(codes: dict[str, list[str]]) -> None:
        expected = canonical(plain_filter(raw_frame, codes))
        from_raw = canonical(raw.events(table, codes).collect())
        got = snap.events(table, codes).collect()
        assert got.schema == snap.table(table).collect_schema()
        from_snap = canonical(to_raw_form(got, frames["__patients"]))
        assert from_raw.equals(expected)
        assert from_snap.equals(expected)

    check()


def test_events_without_codes_is_the_whole_table(snap: SnapshotDataset) -> None:
    for table in ("diagnoses", "encounters"):
        assert snap.events(table).collect().equals(snap.table(table).collect())


def test_empty_and_absent_code_sets_give_no_rows(snap: SnapshotDataset, raw: Dataset) -> None:
    for codes in ({}, {"icd10": []}, {"nosuch": ["E11.9"]}, {"icd10": ["Z99.99"]}):
        got = snap.events("diagnoses", codes).collect()
        assert got.height == 0
        assert got.schema == snap.diagnoses.collect_schema()
        assert raw.events("diagnoses", codes).collect().height == 0


def test_encounters_have_no_codes(snap: SnapshotDataset, raw: Dataset) -> None:
    with pytest.raises(ValueError, match="no codes"):
        snap.events("encounters", {"icd10": ["E11.9"]})
    with pytest.raises(ValueError, match="no codes"):
        raw.events("encounters", {"icd10": ["E11.9"]})


def test_enum_columns_compare_with_strings_outside_their_categories(
    snap: SnapshotDataset,
) -> None:
    frame = snap.diagnoses
    assert frame.filter(pl.col("code").is_in(["not-a-code"])).collect().height == 0
    assert frame.filter(pl.col("system") == "nosuch").collect().height == 0
    some = frame.select(pl.col("code").first()).collect().item()
    hits = frame.filter(pl.col("code").is_in([some, "not-a-code"])).collect()
    assert hits.height > 0 and set(hits["code"].cast(pl.String)) == {some}


def test_adjacent_codes_come_back_in_one_slice(snap: SnapshotDataset) -> None:
    index = snap.indexes["prescriptions"].frame
    first, second = index.row(0, named=True), index.row(1, named=True)
    codes = {first["system"]: [first["code"]]}
    codes.setdefault(second["system"], []).append(second["code"])
    ranges = snap.indexes["prescriptions"].ranges(codes)
    assert ranges == [(0, first["n_rows"] + second["n_rows"])]
    assert snap.events("prescriptions", codes).collect().height == ranges[0][1]
