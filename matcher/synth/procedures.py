"""Procedure records (CCAM acts), hospital admissions and emergency visits at plausible rates.

Each act has a yearly rate per patient, which depends on age and on the patient's conditions
(an ECG is frequent past 40 and in cardiovascular disease; spirometry in COPD and asthma;
bariatric surgery only in obesity); the number of acts over the patient's follow-up is Poisson
and each is dated uniformly in it. The acts come from a random stream of their own, after
everything else, so the other tables of a population do not change with them.

Hospital admissions and emergency-department visits (encounters of kind ``admission`` and
``emergency``, outside the practice) follow yearly rates that rise with age and with the number
of chronic conditions (in France about 0.15 stays and 0.3 emergency visits per person a year,
most of them in the elderly and the chronically ill).

    >>> sorted(RATES)[:3]
    ['cataract', 'colonoscopy', 'ecg']
"""

from __future__ import annotations

import numpy as np

from matcher.synth._common import YEAR, expand, stream, uniform_days
from matcher.synth.catalog import CCAM, code_index
from matcher.synth.conditions import CHRONIC, Conditions
from matcher.synth.events import ENCOUNTER_KINDS, Rows
from matcher.synth.population import Patients

# act: (lowest age, highest age, base yearly rate, conditions raising it, rate with them)
RATES: dict[str, tuple[int, int, float, tuple[str, ...], float]] = {
    "ecg": (40, 120, 0.12, ("hta", "af", "hf", "t2d"), 0.35),
    "spirometry": (6, 120, 0.005, ("copd", "asthma"), 0.4),
    "colonoscopy": (50, 75, 0.02, (), 0.0),
    "cataract": (60, 120, 0.012, ("t2d",), 0.02),
    "hip_replacement": (55, 120, 0.0025, ("obesity",), 0.004),
    "knee_replacement": (55, 120, 0.0025, ("obesity",), 0.005),
    "sleeve_gastrectomy": (18, 65, 0.0, ("obesity",), 0.004),
    "gastric_bypass": (18, 65, 0.0, ("obesity",), 0.002),
    "lumbar_discectomy": (25, 70, 0.0008, (), 0.0),
}


def build_procedures(pat: Patients, cond: Conditions, seed: int, chunk: int) -> Rows:
    """Procedure rows (patient, day, CCAM code index) of one chunk."""
    rng = stream(seed, chunk, 80)
    rows = Rows()
    years = np.maximum(pat.obs_end - pat.obs_start, 0) / YEAR
    age = pat.age_at(pat.obs_end)
    for act, (low, high, base, conditions, raised) in RATES.items():
        rate = np.full(len(pat), base)
        for name in conditions:
            rate = np.where(cond.has(name), np.maximum(rate, raised), rate)
        rate = np.where((age >= low) & (age - years <= high), rate, 0.0)
        owner, _ = expand(rng.poisson(rate * years))
        days = uniform_days(rng, pat.obs_start[owner], pat.obs_end[owner])
        rows.add(owner, days, np.int16(code_index(CCAM[act])))
    return rows


HOSPITAL_RATES: dict[str, tuple[float, float, float]] = {
    "admission": (0.05, 0.03, 2.0),
    "emergency": (0.12, 0.04, 1.5),
}
"""kind: (base yearly rate, added per chronic condition, factor from the age of 75)."""


def build_hospital_contacts(
    pat: Patients, cond: Conditions, seed: int, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Admission and emergency encounter rows of one chunk: (patient, day, kind index)."""
    rng = stream(seed, chunk, 81)
    years = np.maximum(pat.obs_end - pat.obs_start, 0) / YEAR
    old = pat.age_at(pat.obs_end) >= 75
    n_chronic = sum(cond.has(c).astype(np.float64) for c in CHRONIC)
    owners, days, kinds = [], [], []
    for kind, (base, per_condition, elderly) in HOSPITAL_RATES.items():
        rate = (base + per_condition * n_chronic) * np.where(old, elderly, 1.0)
        owner, _ = expand(rng.poisson(rate * years))
        owners.append(owner)
        days.append(uniform_days(rng, pat.obs_start[owner], pat.obs_end[owner]))
        kinds.append(np.full(len(owner), ENCOUNTER_KINDS.index(kind), dtype=np.int8))
    return (
        np.concatenate(owners).astype(np.int32),
        np.concatenate(days),
        np.concatenate(kinds),
    )
