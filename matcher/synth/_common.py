"""Shared helpers of the synthetic generator: dates as day numbers, seeded streams, expansion.

Dates are handled as ``int32`` days since 1970-01-01 until they are written; a missing date
is :data:`NULL_DAY`. Every random draw comes from a stream named by ``(seed, chunk, stream)``
so the output is a pure function of the seed, the population size and the chunk size.

    >>> day("2014-01-01")
    16071
    >>> owner, rank = expand(np.array([2, 0, 3]))
    >>> owner.tolist(), rank.tolist()
    ([0, 0, 2, 2, 2], [0, 1, 0, 1, 2])
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_EPOCH = np.datetime64("1970-01-01", "D")
YEAR = 365.25
NULL_DAY = np.int32(np.iinfo(np.int32).min)


def day(iso: str) -> int:
    """Day number (days since 1970-01-01) of an ISO date."""
    return int((np.datetime64(iso, "D") - _EPOCH).astype(np.int64))


WINDOW_START = day("2014-01-01")
"""First day events may carry."""
WINDOW_END = day("2026-06-30")
"""Last day events may carry; also the extraction date ages are computed at."""
TELE_FROM = day("2020-03-15")
"""Teleconsultations are rare before the first COVID-19 lockdown."""


def stream(seed: int, *keys: int) -> np.random.Generator:
    """An independent random generator for ``seed`` and a tuple of integer stream keys.

    >>> float(stream(1, 2).random()) == float(stream(1, 2).random())
    True
    """
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row owners and within-owner ranks for ``counts[i]`` rows per owner ``i``."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    rank = np.arange(len(owner), dtype=np.int64) - np.repeat(starts, counts)
    return owner, rank


def uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """One uniform day in ``[lo, hi]`` per element (``hi < lo`` gives ``lo``)."""
    lo = np.asarray(lo, dtype=np.int64)
    span = np.maximum(np.asarray(hi, dtype=np.int64) - lo, 0) + 1
    return (lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)).astype(np.int32)


def pick(rng: np.random.Generator, options: np.ndarray, probs: list[float], n: int) -> np.ndarray:
    """``n`` draws from ``options`` with probabilities ``probs`` (normalised)."""
    p = np.asarray(probs, dtype=np.float64)
    return np.asarray(options)[rng.choice(len(p), size=n, p=p / p.sum())]


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_SHIFTS = np.arange(60, -4, -4, dtype=np.uint64)


def hex64(values: np.ndarray) -> pa.StringArray:
    """16-character lower-case hex strings of unsigned 64-bit integers, built without a loop.

    >>> hex64(np.array([255, 2**64 - 1], dtype=np.uint64)).to_pylist()
    ['00000000000000ff', 'ffffffffffffffff']
    """
    values = np.asarray(values, dtype=np.uint64)
    n = len(values)
    chars = _HEX[((values[:, None] >> _SHIFTS) & np.uint64(0xF)).astype(np.uint8)]
    offsets = np.arange(0, 16 * (n + 1), 16, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(np.ascontiguousarray(chars).tobytes())
    )


def feistel64(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """A keyed bijection on 64-bit integers (a balanced Feistel network, 4 rounds).

    Distinct inputs give distinct outputs, so pseudonyms built from row numbers never collide,
    yet they look random and cannot be turned back without the seed-derived round keys.

    >>> k = np.array([1, 2, 3, 4], dtype=np.uint64)
    >>> len(set(feistel64(np.arange(1000, dtype=np.uint64), k).tolist()))
    1000
    """
    mask = np.uint64(0xFFFFFFFF)
    x = np.asarray(values, dtype=np.uint64)
    left, right = x >> np.uint64(32), x & mask
    for k in np.asarray(keys, dtype=np.uint64):
        f = ((right ^ k) * np.uint64(0x9E3779B1) + (k >> np.uint64(7))) & mask
        f ^= f >> np.uint64(15)
        f = (f * np.uint64(0x85EBCA6B)) & mask
        f ^= f >> np.uint64(13)
        left, right = right, left ^ f
    return (left << np.uint64(32)) | right
