"""Doses of the synthetic prescription lines (issue 18): realistic regimens per drug.

Each treatment course gets one regimen of its drug (strength per intake, intakes per day, in
the unit a French GP writes: mg, ug for levothyroxine, [iU] for insulins), drawn with the
frequencies below; 15 % of courses are stepped up once to the next regimen (titration, at
any of their first thirty lines), and 8 % of lines carry no dose (not recorded). Weekly drugs
(GLP-1 receptor agonists given weekly, weekly bisphosphonates) have a daily dose of a seventh
of the dose.
Combination products (salmeterol/fluticasone, sacubitril/valsartan) carry no dose.

    >>> regimens = REGIMENS["atorvastatin"]
    >>> [(r[0] * r[1], r[2]) for r in regimens]
    [(10, 'mg'), (20, 'mg'), (40, 'mg'), (80, 'mg')]
"""

from __future__ import annotations

import numpy as np

from matcher.synth.catalog import drug

DOSE_UNITS: tuple[str, ...] = ("mg", "ug", "[iU]")
"""Dose units written by the generator (index in the generated rows; -1 for none)."""

WEEK = 1.0 / 7.0

# drug → (amount per intake, intakes per day, unit, weight)
REGIMENS: dict[str, tuple[tuple[float, float, str, float], ...]] = {
    "metformin": ((500, 2, "mg", 2), (850, 2, "mg", 3), (1000, 2, "mg", 4), (1000, 3, "mg", 1)),
    "gliclazide": ((30, 1, "mg", 3), (60, 1, "mg", 4), (60, 2, "mg", 2)),
    "glimepiride": ((1, 1, "mg", 2), (2, 1, "mg", 3), (3, 1, "mg", 2), (4, 1, "mg", 1)),
    "sitagliptin": ((50, 1, "mg", 1), (100, 1, "mg", 6)),
    "liraglutide": ((0.6, 1, "mg", 1), (1.2, 1, "mg", 4), (1.8, 1, "mg", 3)),
    "dulaglutide": ((0.75, WEEK, "mg", 1), (1.5, WEEK, "mg", 4)),
    "semaglutide": ((0.25, WEEK, "mg", 1), (0.5, WEEK, "mg", 3), (1.0, WEEK, "mg", 3)),
    "dapagliflozin": ((10, 1, "mg", 1),),
    "empagliflozin": ((10, 1, "mg", 3), (25, 1, "mg", 1)),
    "insulin_glargine": (
        (10, 1, "[iU]", 2),
        (20, 1, "[iU]", 3),
        (30, 1, "[iU]", 2),
        (40, 1, "[iU]", 1),
    ),
    "insulin_aspart": ((4, 3, "[iU]", 2), (6, 3, "[iU]", 3), (10, 3, "[iU]", 1)),
    "ramipril": ((2.5, 1, "mg", 2), (5, 1, "mg", 4), (10, 1, "mg", 3)),
    "enalapril": ((5, 1, "mg", 2), (10, 1, "mg", 2), (20, 1, "mg", 2), (10, 2, "mg", 1)),
    "losartan": ((50, 1, "mg", 3), (100, 1, "mg", 2)),
    "valsartan": ((80, 1, "mg", 3), (160, 1, "mg", 3)),
    "amlodipine": ((5, 1, "mg", 3), (10, 1, "mg", 2)),
    "hydrochlorothiazide": ((12.5, 1, "mg", 3), (25, 1, "mg", 2)),
    "bisoprolol": ((1.25, 1, "mg", 1), (2.5, 1, "mg", 2), (5, 1, "mg", 3), (10, 1, "mg", 1)),
    "atorvastatin": ((10, 1, "mg", 3), (20, 1, "mg", 3), (40, 1, "mg", 2), (80, 1, "mg", 1)),
    "simvastatin": ((20, 1, "mg", 3), (40, 1, "mg", 2)),
    "rosuvastatin": ((5, 1, "mg", 3), (10, 1, "mg", 3), (20, 1, "mg", 1)),
    "rivaroxaban": ((15, 1, "mg", 1), (20, 1, "mg", 4)),
    "apixaban": ((2.5, 2, "mg", 1), (5, 2, "mg", 4)),
    "acenocoumarol": ((2, 1, "mg", 1), (4, 1, "mg", 2)),
    "warfarin": ((2, 1, "mg", 1), (5, 1, "mg", 2)),
    "aspirin": ((75, 1, "mg", 3), (100, 1, "mg", 2), (160, 1, "mg", 1)),
    "salbutamol": ((0.1, 2, "mg", 2), (0.2, 4, "mg", 1)),
    "tiotropium": ((18, 1, "ug", 1),),
    "budesonide": ((200, 2, "ug", 2), (400, 2, "ug", 1)),
    "escitalopram": ((5, 1, "mg", 1), (10, 1, "mg", 4), (20, 1, "mg", 2)),
    "sertraline": ((50, 1, "mg", 4), (100, 1, "mg", 2)),
    "mirtazapine": ((15, 1, "mg", 2), (30, 1, "mg", 2)),
    "alendronate": ((70, WEEK, "mg", 1),),
    "risedronate": ((35, WEEK, "mg", 1),),
    "furosemide": ((20, 1, "mg", 2), (40, 1, "mg", 3), (40, 2, "mg", 1)),
    "spironolactone": ((25, 1, "mg", 3), (50, 1, "mg", 1)),
    "levothyroxine": (
        (25, 1, "ug", 2),
        (50, 1, "ug", 3),
        (75, 1, "ug", 3),
        (100, 1, "ug", 2),
        (125, 1, "ug", 1),
    ),
    "paracetamol": ((1000, 3, "mg", 3), (500, 3, "mg", 1), (1000, 4, "mg", 1)),
}
MISSING = 0.08
STEP_UP = 0.15


def course_doses(
    rng: np.random.Generator, code: np.ndarray, rank: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dose, daily dose, unit index) of lines; ``code`` per course, ``owner`` the course of
    each line, ``rank`` the line's place in its course. NaN and -1 where none is recorded."""
    n_courses = len(code)
    regimen = np.zeros(n_courses, dtype=np.int64)
    count = np.ones(n_courses, dtype=np.int64)
    tables: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for name, options in REGIMENS.items():  # one pass per drug, vectorised over its courses
        index = drug(name)
        mine = np.flatnonzero(code == index)
        weights = np.asarray([o[3] for o in options], dtype=float)
        regimen[mine] = rng.choice(len(options), size=len(mine), p=weights / weights.sum())
        count[mine] = len(options)
        amounts = np.asarray([o[0] for o in options], dtype=float)
        # weekly drugs: once in 7 days (the daily dose is computed as a FHIR reader does)
        per_day = np.asarray([1.0 if o[1] == WEEK else o[1] for o in options], dtype=float)
        period = np.asarray([7.0 if o[1] == WEEK else 1.0 for o in options], dtype=float)
        units = np.asarray([DOSE_UNITS.index(o[2]) for o in options], dtype=np.int16)
        tables[index] = (amounts, per_day, period, units)
    # titration: from a random line on, the next regimen of the drug
    step_from = np.where(rng.random(n_courses) < STEP_UP, rng.integers(1, 30, n_courses), 10**9)
    line_regimen = np.minimum(regimen[owner] + (rank >= step_from[owner]), count[owner] - 1)
    dose = np.full(len(owner), np.nan)
    daily = np.full(len(owner), np.nan)
    unit = np.full(len(owner), -1, dtype=np.int16)
    line_code = code[owner]
    for index, (amounts, per_day, period, units) in tables.items():
        mine = np.flatnonzero(line_code == index)
        chosen = line_regimen[mine]
        dose[mine] = amounts[chosen]
        daily[mine] = amounts[chosen] * per_day[chosen] / (period[chosen] * 1.0)
        unit[mine] = units[chosen]
    missing = rng.random(len(owner)) < MISSING
    dose[missing], daily[missing], unit[missing] = np.nan, np.nan, -1
    return dose, daily, unit
