"""Issue 16, warm target: the engine's sorted path (:mod:`matcher.engine.latest`) relies on every
code's rows of a snapshot being sorted by patient then date; these tests check that an ingest
writes them so and that the reader says so for one code only."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from matcher.snapshot import open_snapshot
from matcher.snapshot.reader import sorted_by_key_and_date


def test_issue16_warm_every_code_range_sorted_by_patient_and_date(snap_dir: Path) -> None:
    snap = open_snapshot(snap_dir)
    checked = 0
    for table, index in snap.indexes.items():
        frame = snap.stored[table].frame
        for first, n in index.frame.select("first_row", "n_rows").iter_rows():
            rows = frame.slice(first, n)
            assert sorted_by_key_and_date(rows, snap.patient_key), (table, first, n)
            checked += 1
    assert checked > 20


def test_issue16_warm_key_sorted_for_one_code_only(snap_dir: Path) -> None:
    snap = open_snapshot(snap_dir)
    codes = snap.indexes["observations"].frame.filter(pl.col("n_rows") > 0)
    (s1, c1), (s2, c2) = codes.select("system", "code").head(2).iter_rows()
    assert snap.key_sorted("observations", {s1: [c1]})
    assert snap.key_sorted("observations", {s1: [c1, "no-such-code"]})
    both = {s1: [c1]} | {s2: [c2]} if s1 != s2 else {s1: [c1, c2]}
    assert not snap.key_sorted("observations", both)
    assert not snap.key_sorted("observations", None)
    assert not snap.key_sorted("encounters", None)
    # the rows the reader gives for one code are those checked above: in order
    rows = snap.events("observations", {s1: [c1]}).collect()
    assert sorted_by_key_and_date(rows, snap.patient_key)
    assert rows.height == codes.row(0, named=True)["n_rows"]


def test_issue16_warm_order_check_finds_disorder() -> None:
    rows = pl.DataFrame({"patient_key": [0, 1, 1, 2], "date": [5, 1, 3, 0]})
    assert sorted_by_key_and_date(rows, "patient_key")
    swapped = rows.with_columns(pl.Series("date", [5, 3, 1, 0]))
    assert not sorted_by_key_and_date(swapped, "patient_key")
    assert not sorted_by_key_and_date(rows.reverse(), "patient_key")
