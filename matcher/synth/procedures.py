"""Procedure records (CCAM acts) at plausible general-practice rates.

Each act has a yearly rate per patient, which depends on age and on the patient's conditions
(an ECG is frequent past 40 and in cardiovascular disease; spirometry in COPD and asthma;
bariatric surgery only in obesity); the number of acts over the patient's follow-up is Poisson
and each is dated uniformly in it. The acts come from a random stream of their own, after
everything else, so the other tables of a population do not change with them.

    >>> sorted(RATES)[:3]
    ['cataract', 'colonoscopy', 'ecg']
"""

from __future__ import annotations

import numpy as np

from matcher.synth._common import YEAR, expand, stream, uniform_days
from matcher.synth.catalog import CCAM, code_index
from matcher.synth.conditions import Conditions
from matcher.synth.events import Rows
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
