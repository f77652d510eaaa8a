"""Keyed bottom-k sketches: a one-patient difference is always seen as near-identical."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matcher.disclosure.sketch import (
    MAX_DIFFERENCE,
    SKETCH_SIZE,
    bottom_k,
    difference_window,
    hash_key,
    keyed_hashes,
    sketch_difference,
    sketch_size,
)

KEY = hash_key(b"test-secret")


def _sketch(ids) -> bytes:
    return bottom_k(keyed_hashes(list(ids), KEY))


def test_hash_of_a_pseudonym_does_not_depend_on_its_batch() -> None:
    alone = keyed_hashes(["patient-000123"], KEY)[0]
    batch = keyed_hashes(pl.Series(["x", "a" * 70, "patient-000123", ""]), KEY)
    assert batch[2] == alone
    assert keyed_hashes(["patient-000123"], hash_key(b"other"))[0] != alone  # keyed
    assert len({int(v) for v in batch}) == 4
    prefix = keyed_hashes(["ab", "ab\x00", "abc"], KEY)
    assert len(set(prefix.tolist())) == 3  # the length is mixed in: no padding collisions


def test_hashes_look_uniform() -> None:
    values = keyed_hashes([f"p{i:08d}" for i in range(20_000)], KEY)
    top_bit = (values >> np.uint64(63)).mean()
    assert 0.48 < top_bit < 0.52 and np.unique(values).size == values.size


@given(
    n=st.integers(0, 3 * SKETCH_SIZE),
    seed=st.integers(0, 10_000),
    drop=st.booleans(),
)
def test_one_patient_difference_is_at_most_one(n, seed, drop) -> None:
    ids = [f"s{seed}-{i}" for i in range(n)]
    other = ids[1:] if drop and ids else [*ids, f"s{seed}-extra"]
    a, b = _sketch(ids), _sketch(other)
    assert sketch_difference(a, a) == 0
    assert sketch_difference(a, b) <= MAX_DIFFERENCE
    assert sketch_difference(b, a) == sketch_difference(a, b)


def test_small_sets_are_held_whole_and_compared_exactly() -> None:
    ids = [f"q{i}" for i in range(40)]
    assert sketch_size(_sketch(ids)) == 40
    assert sketch_difference(_sketch(ids), _sketch(ids[:35])) == 5
    assert sketch_difference(_sketch(ids[:20]), _sketch(ids[20:])) == 40


def test_large_sets_differing_by_many_patients_are_not_near_identical() -> None:
    ids = [f"L{i}" for i in range(5000)]
    assert sketch_size(_sketch(ids)) == SKETCH_SIZE
    far = sketch_difference(_sketch(ids), _sketch(ids[1000:] + [f"M{i}" for i in range(1000)]))
    assert far > 40  # expected about 2000 * 256 / 5000 ~ 100
    assert difference_window(5000) >= 8 * 5000 // SKETCH_SIZE


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        hash_key(b"")
