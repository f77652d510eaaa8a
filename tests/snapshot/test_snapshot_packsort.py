"""Issue 16 item 4 (ingest time): the bucket sort orders rows by their packed sort key with a
value sort, then settles runs of equal keys by the hash of the other columns: the order of
the two-column sort it replaces, whatever the input order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from matcher.snapshot.encode import _sort_keys, sort_table
from matcher.snapshot.packsort import packed_order


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_issue16_item4_packed_order_is_the_two_column_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 20_000
    df = pl.DataFrame(
        {
            "k": rng.integers(0, 500, n, dtype=np.uint64),  # many runs of equal keys
            "x": rng.integers(0, 10**9, n),
            "y": rng.choice(["a", "b", "c"], n),
        }
    )
    packed, tie = pl.col("k"), pl.struct("x", "y").hash(seed=0)
    order = packed_order(df, packed, tie)
    assert order is not None
    assert df[order].equals(df.sort(packed, tie))
    assert df[packed_order(df, packed, None)]["k"].is_sorted()


def test_issue16_item4_packed_order_leaves_null_keys_to_the_column_sort() -> None:
    df = pl.DataFrame({"k": [2, None, 1]}, schema={"k": pl.UInt64})
    assert packed_order(df, pl.col("k"), None) is None


def test_issue16_item4_sort_table_does_not_depend_on_the_input_order() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    codes = pl.Enum(["A", "B", "C"])
    df = pl.DataFrame(
        {
            "patient_key": rng.integers(0, 50, n).astype(np.uint32),
            "date": pl.date_range(pl.date(2020, 1, 1), pl.date(2020, 1, 5), eager=True).sample(
                n, with_replacement=True, seed=1
            ),
            "system": pl.Series(["atc"] * n, dtype=pl.Enum(["atc"])),
            "code": pl.Series(rng.choice(["A", "B", "C"], n), dtype=codes),
            "duration_days": rng.integers(0, 90, n).astype(np.int32),
        }
    ).select("patient_key", "date", "system", "code", "duration_days")
    expected = df.sort(_sort_keys(df, "prescriptions"))
    for seed in range(3):
        shuffled = df.sample(fraction=1.0, shuffle=True, seed=seed)
        assert sort_table(shuffled, "prescriptions").equals(expected)
