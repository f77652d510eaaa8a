"""Observations: vital signs at encounters and laboratory panels, consistent with conditions.

* Blood pressure at 22 % of adult visits (50 % for hypertensive patients); treated
  hypertension near 136/82 mm[Hg], untreated above 145; weight at a fifth of visits, BMI
  at 40 % of the weighings (obese patients BMI >= 30).
* Laboratory panels at an age- and condition-dependent yearly rate: creatinine with eGFR
  (CKD-EPI 2009; eGFR within the band of the coded CKD stage), LDL and total cholesterol
  (lower after a statin starts), fasting glucose, HbA1c (about 3 a year for diabetic patients).
* Each patient uses one laboratory: 15 % report HbA1c in ``mmol/mol`` (IFCC), 10 % creatinine
  in ``mg/dL``, 55 % lipids and glucose in ``g/L``; 0.2 % of results have no value.

    >>> round(float(ifcc(np.array([7.0]))[0]), 1)
    53.0
"""

from __future__ import annotations

import numpy as np

from matcher.synth._common import NULL_DAY, expand, stream
from matcher.synth.catalog import lab, unit_index
from matcher.synth.conditions import CKD_EGFR_BANDS, Conditions
from matcher.synth.events import Rows
from matcher.synth.population import SEX_F, Patients

LDL_MMOL_TO_GL = 0.3867
GLUCOSE_MMOL_TO_GL = 0.18016
CREATININE_UMOL_PER_MGDL = 88.42
MISSING_VALUE_SHARE = 0.002


def ifcc(percent: np.ndarray) -> np.ndarray:
    """HbA1c from NGSP per cent to IFCC mmol/mol."""
    return (percent - 2.15) * 10.929


def creatinine_from_egfr(egfr: np.ndarray, age: np.ndarray, female: np.ndarray) -> np.ndarray:
    """Serum creatinine (mg/dL) giving ``egfr`` under CKD-EPI 2009 (without the race term)."""
    kappa = np.where(female, 0.7, 0.9)
    alpha = np.where(female, -0.329, -0.411)
    base = egfr / (141.0 * 0.993 ** np.clip(age, 18, 110) * np.where(female, 1.018, 1.0))
    ratio = np.where(base >= 1.0, base ** (1.0 / alpha), base ** (1.0 / -1.209))
    return ratio * kappa


def _add_lab(rows: Rows, rng, owner, date, name, value, unit, alt_unit=None, alt=None, factor=1.0):
    """Add one analyte; ``alt`` marks rows reported in ``alt_unit`` (value times ``factor``)."""
    units = np.full(len(owner), unit_index(unit), dtype=np.int8)
    if alt_unit is not None:
        value = np.where(alt, np.round(value * factor, 3), value)
        units = np.where(alt, unit_index(alt_unit), units).astype(np.int8)
    missing = rng.random(len(owner)) < MISSING_VALUE_SHARE
    rows.add(owner, date, lab(name), value=np.where(missing, np.nan, value), unit=units)


def build_observations(
    pat: Patients,
    cond: Conditions,
    encounters: tuple[np.ndarray, np.ndarray, np.ndarray],
    starts: dict[str, np.ndarray],
    seed: int,
    chunk: int,
) -> Rows:
    """Vital signs and laboratory results of one chunk."""
    rng = stream(seed, chunk, 70)
    n = len(pat)
    rows = Rows()
    female = pat.sex == SEX_F
    age_end = pat.age_at(pat.obs_end)
    hta = cond.has("hta")
    height = np.where(female, rng.normal(1.63, 0.065, n), rng.normal(1.76, 0.07, n))
    bmi0 = np.where(
        cond.obese, 30.5 + rng.gamma(2.0, 2.0, n), np.clip(rng.normal(24.5, 3.0, n), 17.5, 29.9)
    )

    enc_owner, enc_date, _ = encounters
    age = pat.age_at(enc_date, enc_owner)
    adult = age >= 18
    p_bp = np.where(hta[enc_owner], 0.5, 0.22)
    bp = np.flatnonzero(adult & (rng.random(len(enc_owner)) < p_bp))
    o, d = enc_owner[bp], enc_date[bp]
    treated_from = starts["antihypertensive"][o]
    treated = (treated_from != NULL_DAY) & (d >= treated_from)
    sbp_mu = np.clip(110 + 0.4 * (age_end - 18) + rng.normal(0, 8, n), 95, 150)
    sbp = np.where(hta[o], np.where(treated, 136.0, 152.0), sbp_mu[o]) + rng.normal(0, 9, len(o))
    dbp = np.where(hta[o], np.where(treated, 81.0, 90.0), 68 + 0.12 * sbp_mu[o] - 13) + rng.normal(
        0, 6, len(o)
    )
    sbp, dbp = np.clip(sbp, 85, 220), np.clip(dbp, 40, 130)
    mmhg = np.int8(unit_index("mm[Hg]"))
    rows.add(o, d, lab("sbp"), value=np.round(sbp), unit=mmhg)
    rows.add(o, d, lab("dbp"), value=np.round(np.minimum(dbp, sbp - 20)), unit=mmhg)

    heavy = cond.obese | cond.has("t2d") | cond.has("hf")
    p_w = np.where(adult, np.where(heavy[enc_owner], 0.35, 0.2), 0.25)
    w = np.flatnonzero(rng.random(len(enc_owner)) < p_w)
    o, d, a = enc_owner[w], enc_date[w], age[w]
    drift = 1.0 + 0.004 * (d - pat.obs_start[o]) / 365.25 + rng.normal(0, 0.015, len(o))
    bmi = bmi0[o] * drift
    weight = np.where(
        a >= 18,
        bmi * height[o] ** 2,
        np.clip(3.5 + 2.9 * a, 3.0, 70.0) * (1 + rng.normal(0, 0.08, len(o))),
    )
    rows.add(o, d, lab("weight"), value=np.round(weight, 1), unit=np.int8(unit_index("kg")))
    with_bmi = (a >= 18) & (rng.random(len(o)) < 0.4)
    rows.add(
        o[with_bmi],
        d[with_bmi],
        lab("bmi"),
        value=np.round(bmi[with_bmi], 1),
        unit=np.int8(unit_index("kg/m2")),
    )

    _labs(rows, rng, pat, cond, starts, age_end, female)
    return rows


def _labs(rows: Rows, rng, pat: Patients, cond: Conditions, starts, age_end, female) -> None:
    n = len(pat)
    diabetic = cond.has("t2d") | cond.has("t1d")
    stage = cond.ckd_stage
    rate = np.where(age_end >= 40, 0.5, np.where(age_end >= 18, 0.2, 0.0))
    rate = rate + 2.5 * diabetic + 1.5 * (stage >= 3) + 0.5 * (cond.has("hta") | cond.has("dyslip"))
    years = (pat.obs_end - pat.obs_start + 1) / 365.25
    owner, _ = expand(rng.poisson(rate * years))
    date = (
        pat.obs_start[owner]
        + np.floor(rng.random(len(owner)) * (pat.obs_end[owner] - pat.obs_start[owner] + 1))
    ).astype(np.int32)
    age = pat.age_at(date, owner)
    lab_a1c_mmol = rng.random(n) < 0.15
    lab_creat_mg = rng.random(n) < 0.10
    lab_gl = rng.random(n) < 0.55

    # creatinine and eGFR
    lo = np.asarray([90.0] + [b[0] for b in CKD_EGFR_BANDS])[stage]
    hi = np.asarray([130.0] + [b[1] for b in CKD_EGFR_BANDS])[stage]
    healthy = np.clip(118 - 0.75 * np.maximum(age_end - 20, 0) + rng.normal(0, 10, n), 62, 130)
    base = np.where(stage > 0, lo + (hi - lo) * rng.random(n), healthy)
    k = np.flatnonzero(rng.random(len(owner)) < 0.85)
    o, d = owner[k], date[k]
    lo_o = np.where(stage[o] > 0, lo[o], 60.0)
    egfr = np.clip(
        base[o] * (1 + rng.normal(0, 0.04, len(o))), lo_o, np.where(stage[o] > 0, hi[o], 150.0)
    )
    creat = creatinine_from_egfr(egfr, age[k], female[o])
    _add_lab(
        rows,
        rng,
        o,
        d,
        "creatinine",
        np.round(creat * CREATININE_UMOL_PER_MGDL),
        "umol/L",
        "mg/dL",
        lab_creat_mg[o],
        1 / CREATININE_UMOL_PER_MGDL,
    )
    with_egfr = rng.random(len(o)) < 0.95
    _add_lab(
        rows, rng, o[with_egfr], d[with_egfr], "egfr", np.round(egfr[with_egfr]), "mL/min/{1.73_m2}"
    )

    # lipids
    lipid_p = np.where(cond.has("dyslip") | diabetic, 0.7, 0.45)
    k = np.flatnonzero(rng.random(len(owner)) < lipid_p[owner])
    o, d = owner[k], date[k]
    statin_from = starts["statin"][o]
    on_statin = (statin_from != NULL_DAY) & (d >= statin_from + 42)
    untreated = np.where(cond.has("dyslip")[o], 4.4, 3.0 + 0.01 * np.clip(age[k] - 40, -20, 40))
    ldl = np.clip(np.where(on_statin, 2.3, untreated) + rng.normal(0, 0.55, len(o)), 0.6, 7.5)
    tc = ldl + 1.9 + rng.normal(0, 0.3, len(o))
    _add_lab(rows, rng, o, d, "ldl", np.round(ldl, 2), "mmol/L", "g/L", lab_gl[o], LDL_MMOL_TO_GL)
    _add_lab(
        rows, rng, o, d, "total_chol", np.round(tc, 2), "mmol/L", "g/L", lab_gl[o], LDL_MMOL_TO_GL
    )

    # HbA1c: about 0.8 points higher during the first six months after diagnosis
    p_a1c = np.where(diabetic, 0.9, np.where(age_end >= 45, 0.08, 0.02))
    k = np.flatnonzero(rng.random(len(owner)) < p_a1c[owner])
    o, d = owner[k], date[k]
    rec = cond.recorded["t2d"][o]
    early = (rec != NULL_DAY) & (d - rec < 180) & (cond.since["t2d"][o] >= pat.obs_start[o])
    a1c = np.clip(cond.a1c[o] + 0.8 * early + rng.normal(0, 0.35, len(o)), 4.0, 15.0)
    pct = np.round(a1c, 1)
    _add_lab(
        rows,
        rng,
        o,
        d,
        "hba1c",
        np.where(lab_a1c_mmol[o], np.round(ifcc(pct)), pct),
        "%",
        "mmol/mol",
        lab_a1c_mmol[o],
        1.0,
    )

    # fasting glucose (from HbA1c through the ADAG average glucose)
    k = np.flatnonzero(rng.random(len(owner)) < 0.5)
    o, d = owner[k], date[k]
    glucose = np.where(diabetic[o], (28.7 * cond.a1c[o] - 46.7) / 18.0, 5.1) + rng.normal(
        0, 0.5, len(o)
    )
    glucose = np.clip(glucose, 3.0, 25.0)
    _add_lab(
        rows,
        rng,
        o,
        d,
        "glucose",
        np.round(glucose, 2),
        "mmol/L",
        "g/L",
        lab_gl[o],
        GLUCOSE_MMOL_TO_GL,
    )
