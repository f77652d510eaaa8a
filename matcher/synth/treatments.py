"""Prescriptions: treatment courses consistent with the conditions, then their repeat lines.

A *course* is one drug for one patient between a start and a stop day; it becomes a line every
28-90 days (``duration_days`` = the interval, null on 5 % of lines), with a few missed refills,
and a dose per intake and per day of a realistic regimen (:mod:`matcher.synth.doses`).
Treatment lines follow French practice: metformin first for type 2 diabetes, then an add-on
(sulfonylurea, DPP-4 inhibitor, GLP-1 receptor agonist, or SGLT2 inhibitor from April 2020,
their reimbursement date), some switches from DPP-4 to GLP-1 RA and insulin for a minority;
ACE inhibitor / ARB / calcium-channel blocker / thiazide / beta-blocker for hypertension with
ACE-inhibitor-to-ARB switches; statins; VKA then DOAC for atrial fibrillation; loop diuretic,
beta-blocker, sacubitril-valsartan and spironolactone for heart failure; inhaled therapies;
antidepressants per episode; bisphosphonates for at most five years.

    >>> REFILL_INTERVALS
    (28, 30, 56, 84, 90)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher.synth._common import NULL_DAY, day, expand, stream, uniform_days
from matcher.synth.catalog import drug
from matcher.synth.conditions import Conditions
from matcher.synth.doses import course_doses
from matcher.synth.events import Rows
from matcher.synth.population import SEX_F, Patients

REFILL_INTERVALS = (28, 30, 56, 84, 90)
_INTERVAL_PROBS = (0.22, 0.18, 0.1, 0.22, 0.28)
SGLT2_FROM = day("2020-04-01")
NEW_ERA = day("2019-01-01")
DOAC_ERA = day("2017-01-01")


@dataclass
class Courses:
    """Treatment courses under construction; ``first_start`` tracks per-patient start days."""

    n_patients: int
    patient: list[np.ndarray] = field(default_factory=list)
    drug: list[np.ndarray] = field(default_factory=list)
    start: list[np.ndarray] = field(default_factory=list)
    stop: list[np.ndarray] = field(default_factory=list)
    first_start: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, patients, drugs, start, stop, group: str | None = None) -> None:
        """Add courses; those that would stop before they start are left out."""
        patients = np.asarray(patients, dtype=np.int64)
        start = np.asarray(start, dtype=np.int64)
        stop = np.asarray(stop, dtype=np.int64)
        ok = stop >= start
        drugs = np.broadcast_to(np.asarray(drugs, dtype=np.int16), patients.shape)
        self.patient.append(patients[ok])
        self.drug.append(drugs[ok])
        self.start.append(start[ok])
        self.stop.append(stop[ok])
        if group is not None:
            first = self.first_start.setdefault(
                group, np.full(self.n_patients, np.iinfo(np.int64).max)
            )
            np.minimum.at(first, patients[ok], start[ok])


def _choose(rng: np.random.Generator, names: tuple[str, ...], probs, n: int) -> np.ndarray:
    codes = np.array([drug(x) for x in names], dtype=np.int16)
    p = np.asarray(probs, dtype=np.float64)
    return codes[rng.choice(len(codes), size=n, p=p / p.sum())]


def _start(rng, cond: Conditions, pat: Patients, name: str, idx: np.ndarray, delay: int = 90):
    """Start day of a treatment for ``idx``: soon after the first record of the condition."""
    first = cond.recorded[name][idx].astype(np.int64)
    prevalent = cond.since[name][idx] < pat.obs_start[idx]
    return np.where(prevalent, first - 300, first) + rng.integers(0, delay, len(idx))


def _later(rng, start: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return start + rng.integers(lo, hi, len(start))


def build_courses(pat: Patients, cond: Conditions, seed: int, chunk: int) -> Courses:
    """All treatment courses of a chunk."""
    rng = stream(seed, chunk, 50)
    c = Courses(len(pat))
    end = pat.obs_end.astype(np.int64)
    _diabetes(c, rng, pat, cond, end)
    _cardiovascular(c, rng, pat, cond, end)
    _other(c, rng, pat, cond, end)
    return c


def _diabetes(c: Courses, rng, pat: Patients, cond: Conditions, end: np.ndarray) -> None:
    t1 = np.flatnonzero(cond.has("t1d"))
    s = _start(rng, cond, pat, "t1d", t1, 30)
    c.add(t1, drug("insulin_glargine"), s, end[t1], "diabetes")
    c.add(t1, drug("insulin_aspart"), s, end[t1])

    t2 = np.flatnonzero(cond.has("t2d"))
    a1c = cond.a1c[t2]
    s = _start(rng, cond, pat, "t2d", t2)
    met = (rng.random(len(t2)) < 0.9) & (cond.ckd_stage[t2] < 4)
    met_stop = np.where(rng.random(len(t2)) < 0.08, _later(rng, s, 60, 720), end[t2])
    c.add(t2[met], drug("metformin"), s[met], met_stop[met], "diabetes")
    # first-line alternative when metformin is not given or not tolerated
    alt = ~met | (met_stop < end[t2])
    alt_start = np.where(met, met_stop + 1, s)
    c.add(t2[alt], drug("sitagliptin"), alt_start[alt], end[t2][alt], "diabetes")

    for step, p_base in ((1, 0.3), (2, 0.12)):
        p = p_base + 0.3 * (a1c > 7.5) + 0.15 * (a1c > 8.5)
        take = rng.random(len(t2)) < p
        add_start = _later(rng, s, 180 * step, 1800 * step)
        new = add_start >= NEW_ERA
        drug_code = np.where(
            new,
            _choose(
                rng,
                (
                    "gliclazide",
                    "sitagliptin",
                    "semaglutide",
                    "dulaglutide",
                    "dapagliflozin",
                    "empagliflozin",
                ),
                (0.15, 0.25, 0.18, 0.12, 0.15, 0.15),
                len(t2),
            ),
            _choose(
                rng,
                ("gliclazide", "glimepiride", "sitagliptin", "liraglutide", "dulaglutide"),
                (0.28, 0.08, 0.42, 0.14, 0.08),
                len(t2),
            ),
        )
        sglt2 = np.isin(drug_code, [drug("dapagliflozin"), drug("empagliflozin")])
        drug_code = np.where(sglt2 & (add_start < SGLT2_FROM), drug("sitagliptin"), drug_code)
        # DPP-4 inhibitor replaced by a GLP-1 receptor agonist for some
        switch = take & (drug_code == drug("sitagliptin")) & (rng.random(len(t2)) < 0.25)
        switch_day = _later(rng, add_start, 180, 1500)
        stop = np.where(switch, switch_day, end[t2])
        c.add(t2[take], drug_code[take], add_start[take], stop[take], "diabetes")
        glp1 = _choose(
            rng, ("semaglutide", "dulaglutide", "liraglutide"), (0.5, 0.35, 0.15), len(t2)
        )
        c.add(t2[switch], glp1[switch], switch_day[switch] + 1, end[t2][switch], "diabetes")

    insulin = rng.random(len(t2)) < 0.04 + 0.25 * (a1c > 8.5)
    ins_start = _later(rng, s, 365, 3000)
    c.add(t2[insulin], drug("insulin_glargine"), ins_start[insulin], end[t2][insulin], "diabetes")
    bolus = insulin & (rng.random(len(t2)) < 0.3)
    c.add(t2[bolus], drug("insulin_aspart"), ins_start[bolus] + 90, end[t2][bolus])


def _cardiovascular(c: Courses, rng, pat: Patients, cond: Conditions, end: np.ndarray) -> None:
    hta = np.flatnonzero(cond.has("hta"))
    s = _start(rng, cond, pat, "hta", hta)
    treated = rng.random(len(hta)) < 0.85
    first = _choose(
        rng,
        (
            "ramipril",
            "enalapril",
            "losartan",
            "valsartan",
            "amlodipine",
            "hydrochlorothiazide",
            "bisoprolol",
        ),
        (0.25, 0.1, 0.13, 0.12, 0.25, 0.08, 0.07),
        len(hta),
    )
    acei = np.isin(first, [drug("ramipril"), drug("enalapril")])
    cough = treated & acei & (rng.random(len(hta)) < 0.1)
    cough_day = _later(rng, s, 30, 400)
    c.add(
        hta[treated],
        first[treated],
        s[treated],
        np.where(cough, cough_day, end[hta])[treated],
        "antihypertensive",
    )
    arb = _choose(rng, ("losartan", "valsartan"), (1, 1), len(hta))
    c.add(hta[cough], arb[cough], cough_day[cough] + 1, end[hta][cough], "antihypertensive")
    for p, options in (
        (0.4, ("amlodipine", "hydrochlorothiazide", "ramipril", "valsartan")),
        (0.15, ("hydrochlorothiazide", "bisoprolol", "amlodipine")),
    ):
        more = treated & (rng.random(len(hta)) < p)
        code = _choose(rng, options, [1.0] * len(options), len(hta))
        more &= code != first
        c.add(
            hta[more],
            code[more],
            _later(rng, s, 90, 1500)[more],
            end[hta][more],
            "antihypertensive",
        )

    lip = cond.has("dyslip") | (cond.has("t2d") & (rng.random(len(pat)) < 0.4))
    idx = np.flatnonzero(lip & (rng.random(len(pat)) < 0.7))
    name = np.where(cond.has("dyslip")[idx], "dyslip", "t2d")
    s = np.where(
        name == "dyslip",
        _start(rng, cond, pat, "dyslip", idx, 180),
        _start(rng, cond, pat, "t2d", idx, 365),
    )
    statin = _choose(
        rng, ("atorvastatin", "rosuvastatin", "simvastatin"), (0.45, 0.3, 0.25), len(idx)
    )
    stop = np.where(rng.random(len(idx)) < 0.1, _later(rng, s, 90, 1500), end[idx])
    c.add(idx, statin, s, stop, "statin")
    asp = np.flatnonzero(
        (cond.has("t2d") & (rng.random(len(pat)) < 0.2))
        | (cond.has("hf") & (rng.random(len(pat)) < 0.3))
    )
    c.add(asp, drug("aspirin"), uniform_days(rng, pat.obs_start[asp], end[asp]), end[asp])

    af = np.flatnonzero(cond.has("af"))
    s = _start(rng, cond, pat, "af", af, 30)
    anticoag = rng.random(len(af)) < 0.8
    vka_p = np.where(s < DOAC_ERA, 0.65, 0.15)
    vka = anticoag & (rng.random(len(af)) < vka_p)
    doac = _choose(rng, ("apixaban", "rivaroxaban"), (0.55, 0.45), len(af))
    vka_code = _choose(rng, ("acenocoumarol", "warfarin"), (0.6, 0.4), len(af))
    switch = vka & (rng.random(len(af)) < 0.35)
    switch_day = np.maximum(_later(rng, s, 180, 2500), DOAC_ERA - 365)
    c.add(
        af[vka], vka_code[vka], s[vka], np.where(switch, switch_day, end[af])[vka], "anticoagulant"
    )
    c.add(af[switch], doac[switch], switch_day[switch] + 1, end[af][switch], "anticoagulant")
    on_doac = anticoag & ~vka
    c.add(af[on_doac], doac[on_doac], s[on_doac], end[af][on_doac], "anticoagulant")
    rate = rng.random(len(af)) < 0.5
    c.add(af[rate], drug("bisoprolol"), s[rate], end[af][rate])

    hf = np.flatnonzero(cond.has("hf"))
    s = _start(rng, cond, pat, "hf", hf, 30)
    for name, p in (("furosemide", 0.8), ("bisoprolol", 0.7), ("spironolactone", 0.3)):
        take = rng.random(len(hf)) < p
        c.add(hf[take], drug(name), s[take], end[hf][take])
    acei = rng.random(len(hf)) < 0.6
    arni = acei & (rng.random(len(hf)) < 0.35)
    arni_day = np.maximum(_later(rng, s, 90, 1500), day("2016-06-01"))
    c.add(hf[acei], drug("ramipril"), s[acei], np.where(arni, arni_day, end[hf])[acei])
    c.add(hf[arni], drug("sacubitril_valsartan"), arni_day[arni] + 1, end[hf][arni])


def _other(c: Courses, rng, pat: Patients, cond: Conditions, end: np.ndarray) -> None:
    for name, options in (
        ("copd", (("tiotropium", 0.6), ("salmeterol_fluticasone", 0.4), ("salbutamol", 0.7))),
        ("asthma", (("salbutamol", 0.8), ("budesonide", 0.4), ("salmeterol_fluticasone", 0.3))),
    ):
        idx = np.flatnonzero(cond.has(name))
        s = _start(rng, cond, pat, name, idx, 60)
        for drug_name, p in options:
            take = rng.random(len(idx)) < p
            stop = np.where(rng.random(len(idx)) < 0.3, _later(rng, s, 90, 1500), end[idx])
            c.add(idx[take], drug(drug_name), s[take], stop[take], "respiratory")

    dep = cond.depression
    take = rng.random(len(dep.patient)) < 0.75
    ad = _choose(
        rng, ("escitalopram", "sertraline", "mirtazapine"), (0.4, 0.4, 0.2), len(dep.patient)
    )
    stop = np.minimum(
        dep.end.astype(np.int64) + rng.integers(60, 180, len(dep.patient)), end[dep.patient]
    )
    c.add(
        dep.patient[take],
        ad[take],
        dep.start[take] + rng.integers(0, 30, int(take.sum())),
        stop[take],
        "antidepressant",
    )

    idx = np.flatnonzero(cond.has("osteo") & (rng.random(len(pat)) < 0.55))
    s = _start(rng, cond, pat, "osteo", idx, 120)
    bis = _choose(rng, ("alendronate", "risedronate"), (0.6, 0.4), len(idx))
    c.add(idx, bis, s, np.minimum(s + 5 * 365, end[idx]), "bisphosphonate")

    age = pat.age_at(pat.obs_end)
    p_thyroid = np.where(age >= 40, np.where(pat.sex == SEX_F, 0.07, 0.015), 0.005)
    idx = np.flatnonzero(rng.random(len(pat)) < p_thyroid)
    c.add(
        idx, drug("levothyroxine"), uniform_days(rng, pat.obs_start[idx] - 2000, end[idx]), end[idx]
    )


def build_prescriptions(
    pat: Patients,
    c: Courses,
    encounters: tuple[np.ndarray, np.ndarray, np.ndarray],
    seed: int,
    chunk: int,
) -> Rows:
    """Repeat prescription lines of every course, plus acute paracetamol at some visits."""
    rng = stream(seed, chunk, 60)
    patient = np.concatenate(c.patient)
    code = np.concatenate(c.drug)
    start = np.maximum(np.concatenate(c.start), pat.obs_start[patient])
    stop = np.minimum(np.concatenate(c.stop), pat.obs_end[patient])
    keep = stop >= start
    patient, code, start, stop = patient[keep], code[keep], start[keep], stop[keep]
    interval = np.asarray(REFILL_INTERVALS)[
        rng.choice(len(REFILL_INTERVALS), size=len(patient), p=_INTERVAL_PROBS)
    ]
    owner, rank = expand((stop - start) // interval + 1)
    date = start[owner] + rank * interval[owner] + rng.integers(-3, 8, len(owner))
    date = np.clip(date, start[owner], stop[owner])
    kept = rng.random(len(owner)) >= 0.06  # missed refills
    owner, date, rank = owner[kept], date[kept], rank[kept]
    duration = np.where(rng.random(len(owner)) < 0.05, -1, interval[owner]).astype(np.int32)
    dose_rng = stream(seed, chunk, 61)  # issue 18: doses (own stream: other columns unchanged)
    dose, daily, unit = course_doses(dose_rng, code, rank, owner)
    rows = Rows()
    rows.add(
        patient[owner], date, code[owner], duration=duration, dose=dose, daily=daily, unit=unit
    )
    enc_owner, enc_date, _ = encounters
    acute = rng.random(len(enc_owner)) < 0.12
    days = np.asarray([5, 7, 10], dtype=np.int32)[rng.integers(0, 3, int(acute.sum()))]
    n_acute = int(acute.sum())
    para = np.full(n_acute, drug("paracetamol"), dtype=np.int16)
    dose, daily, unit = course_doses(dose_rng, para, np.zeros(n_acute, int), np.arange(n_acute))
    rows.add(
        enc_owner[acute],
        enc_date[acute],
        drug("paracetamol"),
        duration=days,
        dose=dose,
        daily=daily,
        unit=unit,
    )
    return rows


def first_start(c: Courses, group: str) -> np.ndarray:
    """Per-patient first start day of a treatment group, :data:`NULL_DAY` when never treated."""
    first = c.first_start.get(group)
    if first is None:
        return np.full(c.n_patients, NULL_DAY, dtype=np.int32)
    return np.where(first == np.iinfo(np.int64).max, NULL_DAY, first).astype(np.int32)
