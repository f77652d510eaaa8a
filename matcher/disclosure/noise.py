"""Deterministic noise: the same patient set and the same cell always get the same noise.

The noise is Gaussian with standard deviation ``sigma``, rounded to a whole number of
patients. Its seed is ``HMAC-SHA-256(patient_set_key, cell)``: the engine hashes the patient
set into ``patient_set_key`` and the release code names the cell (``"eligible"``,
``"breakdown:centre=C01"``...). Asking the same question again, or asking it in other words
that select the same patients, returns the same answer, so repeating a query gains nothing.

    >>> key = b"\\x01" * 32
    >>> noise_offset(key, "eligible", 1.323) == noise_offset(key, "eligible", 1.323)
    True
    >>> noise_offset(key, "eligible", 0.0)
    0
"""

from __future__ import annotations

import hashlib
import hmac
import math


def _uniforms(key: bytes, cell: str) -> tuple[float, float]:
    digest = hmac.new(key, cell.encode("utf-8"), hashlib.sha256).digest()
    a = int.from_bytes(digest[:8], "big")
    b = int.from_bytes(digest[8:16], "big")
    # (0, 1] and [0, 1): u1 never 0, so log(u1) is finite.
    return (a + 1) / 2.0**64, b / 2.0**64


def gaussian(key: bytes, cell: str) -> float:
    """A standard normal draw determined by ``key`` and ``cell`` (Box-Muller on HMAC bits)."""
    u1, u2 = _uniforms(key, cell)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def noise_offset(key: bytes, cell: str, sigma: float) -> int:
    """The whole-patient noise added to the count of ``cell`` for the set hashed as ``key``."""
    if sigma <= 0:
        return 0
    return round(gaussian(key, cell) * sigma)
