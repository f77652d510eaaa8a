"""Practices, centres and patients: who is on the GP lists, since when, and until when.

* Practices: ``max(1, round(N / 1500))`` practices of log-normal size, spread over 35 university
  centres (every centre gets at least one practice when there are 35 or more); 40 % of the
  practices code mostly in ICPC-2, the others mostly in ICD-10.
* Patients: ages from the French population pyramid (INSEE, 1 January 2024, five-year bands),
  women over-represented at old ages; registration dates, departures (about 10 %), deaths
  from an age-dependent Gompertz hazard, 1.5 % opted out, about 7 % with ``birth_month`` null.
* Each practice holds a 256-bit secret ``K_p`` derived from the seed; the practice token of a
  patient is ``HMAC-SHA-256(K_p, "v1" || local id)`` in hex. The keys are never written to the
  data set.

    >>> practices = build_practices(3000, seed=1)
    >>> len(practices.practice_id), practices.centre_id[:2]
    (2, ['C01', 'C02'])
    >>> token("00a1" * 16, "000001") == token("00a1" * 16, "000001")
    True
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from matcher.synth._common import (
    NULL_DAY,
    WINDOW_END,
    WINDOW_START,
    YEAR,
    day,
    feistel64,
    hex64,
    stream,
    uniform_days,
)

N_CENTRES = 35
PATIENTS_PER_PRACTICE = 1500
ICPC_PRACTICE_SHARE = 0.40
OPTED_OUT_SHARE = 0.015
BIRTH_MONTH_MISSING = 0.07
LEAVER_SHARE = 0.10
TOKEN_VERSION = b"v1"

# INSEE population pyramid, 1 January 2024 (per cent of the population, 5-year bands 0-4 .. 100+)
_AGE_BANDS = np.array(
    [
        *(5.2, 5.7, 6.1, 6.1, 5.7, 5.5, 5.9, 6.2, 6.3, 6.2, 6.7),
        *(6.6, 6.3, 5.9, 5.5, 4.4, 3.0, 2.0, 1.0, 0.35, 0.05),
    ]
)
# share of women per band (more women at old ages)
_FEMALE = np.array([0.49] * 9 + [0.51] * 4 + [0.53] * 2 + [0.57] * 2 + [0.66] * 2 + [0.78] * 2)
_SEX_UNKNOWN = 0.0005

SEX_CODES = ("F", "M", "U")
SEX_F, SEX_M, SEX_U = 0, 1, 2


@dataclass(frozen=True)
class Practices:
    """The practices of a population; ``keys`` are secrets that stay out of the data set."""

    practice_id: list[str]
    centre_id: list[str]
    weight: np.ndarray
    """Probability that a patient belongs to each practice (sums to 1)."""
    icpc: np.ndarray
    """True where the practice codes mostly in ICPC-2."""
    keys: list[bytes]


def practice_key(seed: int, practice_id: str) -> bytes:
    """The 32-byte secret of a practice (synthetic: derived from the seed)."""
    master = hashlib.sha256(b"p4dp-synth-practice-keys/v1/" + str(seed).encode()).digest()
    return hmac.digest(master, practice_id.encode(), "sha256")


def token(key_hex: str, local_id: str) -> str:
    """The practice token of a local patient id: ``HMAC-SHA-256(K_p, "v1" || id)`` in hex."""
    return hmac.digest(bytes.fromhex(key_hex), TOKEN_VERSION + local_id.encode(), "sha256").hex()


def local_id(seq: int) -> str:
    """The practice's own record number for its ``seq``-th synthetic patient (from 1)."""
    return f"{seq:06d}"


def build_practices(n_patients: int, seed: int) -> Practices:
    """Practices, their centres, sizes, coding habits and secret keys."""
    rng = stream(seed, 0, 1)
    n = max(1, round(n_patients / PATIENTS_PER_PRACTICE))
    weight = rng.lognormal(0.0, 0.55, n)
    weight /= weight.sum()
    centre_size = rng.lognormal(0.0, 0.5, N_CENTRES)
    centre = rng.choice(N_CENTRES, size=n, p=centre_size / centre_size.sum())
    first = min(n, N_CENTRES)
    centre[:first] = np.arange(first)
    practice_id = [f"PR{i + 1:04d}" for i in range(n)]
    return Practices(
        practice_id=practice_id,
        centre_id=[f"C{c + 1:02d}" for c in centre],
        weight=weight,
        icpc=rng.random(n) < ICPC_PRACTICE_SHARE,
        keys=[practice_key(seed, p) for p in practice_id],
    )


@dataclass
class Patients:
    """One chunk of patients, as arrays (day numbers for dates, :data:`NULL_DAY` for null)."""

    patient_id: pa.StringArray
    birth: np.ndarray
    birth_month_known: np.ndarray
    sex: np.ndarray
    practice: np.ndarray
    reg_from: np.ndarray
    reg_to: np.ndarray
    death: np.ndarray
    opted_out: np.ndarray
    local_seq: np.ndarray
    obs_start: np.ndarray
    obs_end: np.ndarray

    def __len__(self) -> int:
        return len(self.birth)

    def age_at(self, days: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Age in years on ``days`` of every patient, or of patients ``rows`` (one per day)."""
        birth = self.birth if rows is None else self.birth[rows]
        return (np.asarray(days, dtype=np.float64) - birth) / YEAR


def _gompertz_annual(age: np.ndarray) -> np.ndarray:
    """Annual probability of death at ``age`` (roughly French life tables)."""
    return np.clip(np.exp(-10.4 + 0.093 * age), 0.0002, 0.45)


def build_patients(
    practices: Practices,
    seed: int,
    chunk: int,
    first_index: int,
    size: int,
    practice_counts: np.ndarray,
) -> Patients:
    """Generate ``size`` patients (global rows ``first_index`` ..); updates ``practice_counts``."""
    rng = stream(seed, chunk, 10)
    band = rng.choice(len(_AGE_BANDS), size=size, p=_AGE_BANDS / _AGE_BANDS.sum())
    age_days = np.maximum(((band + rng.random(size)) * 5 * YEAR).astype(np.int64), 120)
    birth = (WINDOW_END - age_days).astype(np.int32)
    u = rng.random(size)
    sex = np.where(u < _FEMALE[band], SEX_F, SEX_M).astype(np.int8)
    sex[rng.random(size) < _SEX_UNKNOWN] = SEX_U

    # registration: skewed towards long-standing lists; never before birth, 1990 or after END-60
    earliest = np.maximum(birth.astype(np.int64) + 30, day("1990-01-01"))
    latest = WINDOW_END - 60
    reg_from = (earliest + (latest - earliest) * rng.random(size) ** 1.8).astype(np.int32)
    reg_known = rng.random(size) >= 0.03
    eff_from = np.maximum(reg_from, WINDOW_START)
    leaver = rng.random(size) < LEAVER_SHARE
    reg_to = np.where(leaver, uniform_days(rng, eff_from + 30, np.full(size, latest)), NULL_DAY)
    # deaths during follow-up (those still registered)
    follow = (WINDOW_END - eff_from) / YEAR
    mid_age = (eff_from + (WINDOW_END - eff_from) / 2 - birth) / YEAR
    p_death = 1.0 - (1.0 - _gompertz_annual(mid_age)) ** follow
    dies = ~leaver & (rng.random(size) < p_death)
    death = np.where(dies, uniform_days(rng, eff_from + 1, np.full(size, WINDOW_END)), NULL_DAY)
    reg_to = np.where(dies, death, reg_to).astype(np.int32)

    practice = rng.choice(len(practices.weight), size=size, p=practices.weight).astype(np.int32)
    local_seq = _local_sequence(practice, practice_counts)
    opted_out = rng.random(size) < OPTED_OUT_SHARE
    month_known = rng.random(size) >= BIRTH_MONTH_MISSING

    keys = stream(seed, 0, 2).integers(0, 2**63, size=4, dtype=np.uint64)
    patient_id = hex64(feistel64(np.arange(first_index, first_index + size, dtype=np.uint64), keys))
    obs_start = np.maximum(np.where(reg_known, eff_from, WINDOW_START), birth).astype(np.int32)
    obs_end = np.where(reg_to == NULL_DAY, WINDOW_END, reg_to).astype(np.int32)
    return Patients(
        patient_id=patient_id,
        birth=birth,
        birth_month_known=month_known,
        sex=sex,
        practice=practice,
        reg_from=np.where(reg_known, reg_from, NULL_DAY).astype(np.int32),
        reg_to=reg_to,
        death=death.astype(np.int32),
        opted_out=opted_out,
        local_seq=local_seq,
        obs_start=obs_start,
        obs_end=obs_end,
    )


def _local_sequence(practice: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """1-based record numbers within each practice, continuing from ``counts`` (updated)."""
    order = np.argsort(practice, kind="stable")
    sorted_p = practice[order]
    group_start = np.searchsorted(sorted_p, sorted_p, side="left")
    rank = np.arange(len(practice)) - group_start
    seq = np.empty(len(practice), dtype=np.int64)
    seq[order] = counts[sorted_p] + rank + 1
    np.add.at(counts, practice, 1)
    return seq


def practice_tokens(patients: Patients, practices: Practices) -> pa.StringArray:
    """The practice token of every patient of a chunk (one HMAC each: C code, no numpy form)."""
    keys = practices.keys
    digest = hmac.digest
    values = [
        digest(keys[p], TOKEN_VERSION + local_id(s).encode(), "sha256").hex()
        for p, s in zip(patients.practice.tolist(), patients.local_seq.tolist(), strict=True)
    ]
    return pa.array(values, type=pa.string())
