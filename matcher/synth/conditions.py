"""Chronic conditions: age- and sex-dependent prevalence with comorbidity, onsets, episodes.

Prevalences (share of patients with the condition recorded at the end of their follow-up)
by age band ``<18, 18-29, 30-39, 40-49, 50-59, 60-69, 70-79, 80+`` are in :data:`PREVALENCE`;
they follow French figures approximately (diabetes: ENTRED / Santé publique France, about 6 %
of adults treated; hypertension: Esteban / Constances; COPD, AF, heart failure, CKD: HAS and
Assurance maladie "cartographie des pathologies"). A shared cardiometabolic risk factor (a
standard normal per patient) raises obesity, diabetes, hypertension, dyslipidaemia, CKD, AF
and heart failure together, and diabetes and hypertension raise CKD and heart failure further.

    >>> sorted(PREVALENCE)[:3]
    ['af', 'asthma', 'ckd']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher.synth._common import NULL_DAY, YEAR, expand, stream, uniform_days
from matcher.synth.population import SEX_F, SEX_M, Patients

_BANDS = np.array([18, 30, 40, 50, 60, 70, 80])

# condition: (prevalence per band, multiplier for men, for women, weight of the shared risk)
PREVALENCE: dict[str, tuple[tuple[float, ...], float, float, float]] = {
    "obesity": ((0.04, 0.10, 0.15, 0.18, 0.20, 0.21, 0.19, 0.13), 1.0, 1.0, 0.8),
    "t2d": ((0.0004, 0.0025, 0.0075, 0.026, 0.06, 0.097, 0.13, 0.12), 1.25, 0.8, 0.6),
    "t1d": ((0.002, 0.003, 0.003, 0.003, 0.003, 0.003, 0.002, 0.001), 1.1, 0.9, 0.0),
    "hta": ((0.0, 0.028, 0.058, 0.13, 0.25, 0.41, 0.55, 0.66), 1.1, 0.92, 0.5),
    "dyslip": ((0.0, 0.015, 0.04, 0.10, 0.18, 0.25, 0.28, 0.24), 1.15, 0.88, 0.5),
    "copd": ((0.0, 0.0, 0.003, 0.015, 0.04, 0.07, 0.09, 0.09), 1.4, 0.7, 0.2),
    "asthma": ((0.08, 0.07, 0.06, 0.055, 0.05, 0.05, 0.05, 0.045), 1.0, 1.0, 0.1),
    "af": ((0.0, 0.0, 0.001, 0.004, 0.01, 0.03, 0.07, 0.13), 1.25, 0.8, 0.3),
    "hf": ((0.0, 0.0, 0.001, 0.002, 0.006, 0.015, 0.04, 0.09), 1.2, 0.85, 0.5),
    "ckd": ((0.0, 0.002, 0.003, 0.007, 0.014, 0.03, 0.065, 0.11), 1.1, 0.9, 0.5),
    "depression": ((0.01, 0.08, 0.09, 0.09, 0.09, 0.08, 0.08, 0.09), 0.6, 1.4, 0.0),
    "osteo": ((0.0, 0.0, 0.0, 0.003, 0.02, 0.07, 0.13, 0.2), 0.35, 1.6, 0.0),
}
CHRONIC = ("obesity", "t1d", "t2d", "hta", "dyslip", "copd", "asthma", "af", "hf", "ckd", "osteo")
_MIN_AGE = {"t2d": 18, "hta": 18, "dyslip": 18, "copd": 35, "af": 30, "hf": 30, "osteo": 40}
# condition-on-condition risk multipliers (applied in the order of CHRONIC)
_BOOST = {
    "t2d": {"obesity": 2.0},
    "hta": {"obesity": 1.5, "t2d": 1.6},
    "ckd": {"t2d": 2.5, "hta": 2.0},
}
_BOOST.update({"hf": {"hta": 2.0, "af": 3.0}, "dyslip": {"t2d": 1.8}})
CKD_STAGE_PROBS = (0.05, 0.17, 0.58, 0.13, 0.07)
CKD_EGFR_BANDS = ((90.0, 115.0), (60.0, 89.0), (30.0, 59.0), (15.0, 29.0), (5.0, 14.0))
PREGNANCY_RATE = 0.075  # pregnancies per woman-year at ages 18-45 followed by a GP
GDM_SHARE = 0.12


@dataclass
class Episodes:
    """Time-limited episodes (depression, pregnancy): owner patient, start and end days."""

    patient: np.ndarray
    start: np.ndarray
    end: np.ndarray
    flag: np.ndarray
    """Depression: recurrent episode; pregnancy: gestational diabetes."""


@dataclass
class Conditions:
    """Per-patient condition status of one chunk."""

    since: dict[str, np.ndarray]
    """True onset day (may precede follow-up), :data:`NULL_DAY` when absent."""
    recorded: dict[str, np.ndarray]
    """Day of the first diagnosis record during follow-up, :data:`NULL_DAY` when absent."""
    ckd_stage: np.ndarray
    a1c: np.ndarray
    """Usual HbA1c (%) of the patient: diabetes control, or a normal value."""
    risk: np.ndarray
    obese: np.ndarray
    """True obesity (BMI >= 30), coded or not."""
    depression: Episodes
    pregnancy: Episodes

    def has(self, name: str) -> np.ndarray:
        return self.recorded[name] != NULL_DAY


def _band_prevalence(name: str, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    table, men, women, _ = PREVALENCE[name]
    p = np.asarray(table)[np.searchsorted(_BANDS, age, side="right")]
    return p * np.where(sex == SEX_M, men, np.where(sex == SEX_F, women, 1.0))


def build_conditions(pat: Patients, seed: int, chunk: int) -> Conditions:
    """Draw conditions, onsets and episodes for one chunk of patients."""
    rng = stream(seed, chunk, 20)
    n = len(pat)
    age_end = pat.age_at(pat.obs_end)
    risk = rng.standard_normal(n)
    present: dict[str, np.ndarray] = {}
    obese = np.zeros(n, dtype=bool)
    for name in CHRONIC:
        beta = PREVALENCE[name][3]
        p = _band_prevalence(name, age_end, pat.sex) * np.exp(beta * risk - beta * beta / 2)
        for other, factor in _BOOST.get(name, {}).items():
            flag = obese if other == "obesity" else present[other]
            p = p * np.where(flag, factor, 1.0) / (1.0 + (factor - 1.0) * 0.1)
        hit = (rng.random(n) < np.clip(p, 0.0, 0.95)) & (age_end >= _MIN_AGE.get(name, 0))
        if name == "obesity":
            obese = hit
            hit = hit & (rng.random(n) < 0.55)  # obesity is coded for about half the obese
        if name == "t2d":
            hit &= ~present["t1d"]
        present[name] = hit

    since: dict[str, np.ndarray] = {}
    recorded: dict[str, np.ndarray] = {}
    for name in CHRONIC:
        has = present[name]
        min_age = _MIN_AGE.get(name, 0)
        years = np.clip(age_end - min_age, 0.0, 25.0) * rng.random(n)
        onset = (pat.obs_end - years * YEAR).astype(np.int64)
        onset = np.maximum(onset, pat.birth.astype(np.int64) + int(min_age * YEAR))
        first = np.where(
            onset < pat.obs_start, uniform_days(rng, pat.obs_start, pat.obs_start + 365), onset
        )
        first = np.minimum(first, pat.obs_end)
        since[name] = np.where(has, onset, NULL_DAY).astype(np.int32)
        recorded[name] = np.where(has, first, NULL_DAY).astype(np.int32)

    stage = np.zeros(n, dtype=np.int8)
    ckd = present["ckd"]
    stage[ckd] = rng.choice(5, size=int(ckd.sum()), p=CKD_STAGE_PROBS) + 1
    diabetic = present["t2d"] | present["t1d"]
    a1c = np.where(
        diabetic,
        np.clip(rng.normal(7.2, 0.9, n) + 0.3 * present["t1d"], 5.8, 12.0),
        np.clip(rng.normal(5.4, 0.3, n) + 0.05 * risk, 4.5, 6.4),
    )
    return Conditions(
        since=since,
        recorded=recorded,
        ckd_stage=stage,
        a1c=a1c,
        risk=risk,
        obese=obese,
        depression=_depression(pat, rng, age_end),
        pregnancy=_pregnancies(pat, rng),
    )


def _depression(pat: Patients, rng: np.random.Generator, age_end: np.ndarray) -> Episodes:
    """One or two depressive episodes of 4-24 months for the patients who have one."""
    n = len(pat)
    hit = rng.random(n) < np.clip(_band_prevalence("depression", age_end, pat.sex), 0, 0.9)
    hit &= age_end >= 12
    idx = np.flatnonzero(hit)
    start = uniform_days(rng, pat.obs_start[idx], pat.obs_end[idx])
    end = np.minimum(start + rng.integers(120, 730, len(idx)), pat.obs_end[idx])
    second = rng.random(len(idx)) < 0.3
    start2 = end + rng.integers(90, 900, len(idx))
    second &= start2 < pat.obs_end[idx] - 60
    idx2 = idx[second]
    s2 = start2[second]
    e2 = np.minimum(s2 + rng.integers(120, 730, len(idx2)), pat.obs_end[idx2])
    return Episodes(
        patient=np.concatenate([idx, idx2]),
        start=np.concatenate([start, s2]).astype(np.int32),
        end=np.concatenate([end, e2]).astype(np.int32),
        flag=np.concatenate([np.zeros(len(idx), bool), np.ones(len(idx2), bool)]),
    )


def _pregnancies(pat: Patients, rng: np.random.Generator) -> Episodes:
    """Pregnancy episodes (280 days) for women aged 18-45 at conception, at least 1 year apart."""
    lo = np.maximum(pat.obs_start, pat.birth + int(18 * YEAR)).astype(np.int64)
    hi = (np.minimum(pat.obs_end, pat.birth + int(45 * YEAR)) - 280).astype(np.int64)
    eligible = (pat.sex == SEX_F) & (hi > lo)
    years = np.where(eligible, (hi - lo) / YEAR, 0.0)
    counts = np.minimum(rng.poisson(PREGNANCY_RATE * years), 4)
    owner, _ = expand(counts)
    start = uniform_days(rng, lo[owner], hi[owner]).astype(np.int64)
    order = np.lexsort((start, owner))
    owner, start = owner[order], start[order]
    # a pregnancy that would overlap the previous one of the same woman is dropped (no
    # pregnancy at all is an empty array, not one padded element)
    keep = np.ones(len(owner), dtype=bool)
    keep[1:] = (owner[1:] != owner[:-1]) | (np.diff(start) >= 400)
    owner, start = owner[keep], start[keep]
    return Episodes(
        patient=owner,
        start=start.astype(np.int32),
        end=(start + 280).astype(np.int32),
        flag=rng.random(len(owner)) < GDM_SHARE,
    )
