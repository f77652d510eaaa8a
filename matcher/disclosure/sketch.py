"""Similarity sketches of patient sets, for sticky answers against differencing.

A sketch is the *bottom-k* of keyed 64-bit hashes of the set's pseudonyms: the ``k``
smallest hash values (``k = SKETCH_SIZE = 256``), stored sorted as little-endian
``uint64`` bytes. A set of at most ``k`` patients is therefore held whole (as keyed
hashes), a larger set by a uniform sample of about ``k`` of its members.

Two sketches are compared by :func:`sketch_difference`: with ``tau`` the smaller of the two
k-th values (or the whole hash range when a set is held whole), it counts the hashes at or
below ``tau`` that are in one sketch and not in the other. Those are exactly the patients of
the symmetric difference of the two sets whose hash falls under ``tau``, so:

* two identical sets give 0; two sets differing by **one** patient give at most 1, whatever
  their size (adding a patient to a bottom-k changes it by at most one value in, one out);
* two sets differing by ``D`` patients give about ``D * k / n`` (exactly ``D`` for small sets).

The hash key comes from a platform secret (:func:`hash_key`); sketches stay in the ledger
and never appear in outputs or logs. The hash is computed vectorised in numpy (a keyed
SplitMix64-style mix over 8-byte words of the UTF-8 pseudonym), stable across Polars and
numpy versions, so sketches stored by one version match those of the next.

    >>> key = hash_key(b"secret")
    >>> a = bottom_k(keyed_hashes(["p1", "p2", "p3"], key))
    >>> b = bottom_k(keyed_hashes(["p1", "p2", "p3", "p4"], key))
    >>> sketch_difference(a, a), sketch_difference(a, b)
    (0, 1)
    >>> sketch_size(b)
    4
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import numpy as np
import polars as pl

#: Values kept per sketch (bottom-k). Sets of at most this size are held whole.
SKETCH_SIZE = 256
#: A new set is *near-identical* to a released one when their sketches differ by at most this.
MAX_DIFFERENCE = 1
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_TOP = (1 << 64) - 1


def hash_key(secret: bytes) -> bytes:
    """The 64-byte hashing key derived from a platform secret (never stored with sketches)."""
    if not secret:
        raise ValueError("a sketch needs a non-empty secret")
    first = hmac.new(secret, b"p4dp-sketch-v1/a", hashlib.sha256).digest()
    return first + hmac.new(secret, b"p4dp-sketch-v1/b", hashlib.sha256).digest()


_MIX_SHIFTS = (np.uint64(30), np.uint64(27), np.uint64(31))
#: ``_TAIL[r]`` keeps the first ``r`` bytes of a little-endian word (``r = 8``: all of them).
_TAIL = np.array([(1 << (8 * r)) - 1 for r in range(8)] + [_TOP], dtype=np.uint64)
#: Rows hashed per block: the block's temporaries stay in the processor's cache.
_BLOCK = 1 << 16


def _mix(x: np.ndarray, tmp: np.ndarray) -> None:
    """SplitMix64's finaliser, in place (``tmp``: scratch of the same shape)."""
    first, second, third = _MIX_SHIFTS
    np.right_shift(x, first, out=tmp)
    x ^= tmp
    x *= _M1
    np.right_shift(x, second, out=tmp)
    x ^= tmp
    x *= _M2
    np.right_shift(x, third, out=tmp)
    x ^= tmp


def _hash_block(
    view: np.ndarray, starts: np.ndarray, lengths: np.ndarray, words: np.ndarray, h: np.ndarray
) -> None:
    """Hash one block of pseudonyms into ``h``: the length, then each 8-byte word of the
    UTF-8 bytes (the last one zero-padded), each mixed with a word of the key.

    ``view[p]`` is the little-endian word at byte ``p`` of the data; a word that would run
    past the end of the data is read ending there and shifted down (the bytes it lacks are
    beyond the pseudonym, masked anyway).
    """
    tmp = np.empty_like(h)
    last = view.size - 1
    np.bitwise_xor(words[0], lengths.astype(np.uint64), out=h)
    _mix(h, tmp)
    for j in range(int(-(-lengths.max() // 8))):
        rest = lengths - 8 * j
        live = rest > 0
        every = bool(live.all())
        wanted = starts + 8 * j if every else np.where(live, starts + 8 * j, 0)
        if int(wanted.max()) > last:
            read = np.minimum(wanted, last)
            word = view[read]
            word >>= ((wanted - read) * 8).astype(np.uint64)
        else:
            word = view[wanted]
        if bool((rest < 8).any()):
            word &= _TAIL[np.clip(rest, 0, 8)]
        word ^= h
        word ^= words[1 + j % 6]
        _mix(word, tmp)
        np.copyto(h, word, where=True if every else live)
    h ^= words[7]
    _mix(h, tmp)


def keyed_hashes(ids: pl.Series | Sequence[str], key: bytes) -> np.ndarray:
    """Keyed 64-bit hash of every pseudonym (``uint64`` array, same order), vectorised.

    ``key`` comes from :func:`hash_key`. The same pseudonym always gets the same value under
    the same key, whatever the batch it is hashed in. The bytes are read in place in the
    Arrow buffer, each 8-byte word in one unaligned load per row, by blocks of rows whose
    temporaries stay in cache.
    """
    series = ids if isinstance(ids, pl.Series) else pl.Series(list(ids), dtype=pl.String)
    if series.len() == 0:
        return np.empty(0, dtype=np.uint64)
    arrow = series.cast(pl.String).cast(pl.Binary).rechunk().to_arrow()
    if hasattr(arrow, "combine_chunks"):
        arrow = arrow.combine_chunks()
    if arrow.null_count:
        raise ValueError("a patient set contains a missing pseudonym")
    _, offsets_buf, data_buf = arrow.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)
    offsets = offsets[arrow.offset : arrow.offset + len(arrow) + 1]
    data = np.frombuffer(data_buf or b"", dtype=np.uint8)
    if data.size < 8:  # shorter than one word: a padded copy
        data = np.concatenate([data, np.zeros(8 - data.size, dtype=np.uint8)])
    # every byte position read as the start of a little-endian 8-byte word (unaligned view)
    view = np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))
    words = np.frombuffer(key, dtype="<u8").copy()
    out = np.empty(len(arrow), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for a in range(0, out.size, _BLOCK):
            b = min(a + _BLOCK, out.size)
            block = offsets[a : b + 1]
            _hash_block(view, block[:-1], np.diff(block), words, out[a:b])
    return out


def bottom_k(hashes: np.ndarray, k: int = SKETCH_SIZE) -> bytes:
    """The sketch of a set from its keyed hashes: the ``k`` smallest distinct values, sorted."""
    values = np.asarray(hashes, dtype=np.uint64)
    if values.size > k:
        values = np.partition(values, k - 1)[:k]
    values = np.unique(values)
    return values.astype("<u8").tobytes()


def sketch_values(sketch: bytes) -> np.ndarray:
    """The sorted hash values held in a sketch."""
    return np.frombuffer(sketch, dtype="<u8")


def sketch_size(sketch: bytes) -> int:
    """How many values a sketch holds (the set's size when it is at most ``SKETCH_SIZE``)."""
    return len(sketch) // 8


def sketch_difference(a: bytes, b: bytes, k: int = SKETCH_SIZE) -> int:
    """Patients of the symmetric difference seen by both sketches (see the module doc).

    0 for identical sets, at most 1 for sets differing by one patient, about ``D * k / n``
    for sets of ``n`` patients differing by ``D``.
    """
    va, vb = sketch_values(a), sketch_values(b)
    tau = _TOP
    if va.size >= k:
        tau = min(tau, int(va[-1]))
    if vb.size >= k:
        tau = min(tau, int(vb[-1]))
    ua = va[va <= np.uint64(tau)]
    ub = vb[vb <= np.uint64(tau)]
    return int(np.setxor1d(ua, ub, assume_unique=True).size)


def difference_window(count: int, k: int = SKETCH_SIZE) -> int:
    """How far apart two true counts may be for their sets to still look near-identical.

    Used only to narrow the ledger's candidates: sets whose counts differ by more than this
    differ by more patients, and their sketches differ by at most ``MAX_DIFFERENCE`` with a
    probability under 0.3 % (Poisson(8) <= 1).
    """
    return MAX_DIFFERENCE + -(-8 * count // k)
