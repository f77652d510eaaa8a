"""Smoking, pregnancy-status and breast-feeding records (issue 18), at plausible GP rates.

* Smoking: 75 % of patients aged 15 or more at the end of follow-up have a smoking-status
  record (LOINC 72166-2, SNOMED CT answer in ``value_code``); about 25 % are current smokers,
  25 % former and 50 % never smokers. A quarter of the current smokers quit during follow-up
  (a later "former smoker" record). 60 % of current and former smokers have pack-years
  (gamma, mean about 20) and 50 % of current smokers cigarettes per day (5 to 30).
* Pregnancies (generated with the conditions, women 18-45): 70 % end with a recorded delivery
  (ICD-10 O80 or Z37.0, ICPC-2 W90 in ICPC practices) on the episode's last day; 30 % have a
  pregnancy-status observation "pregnant" at a prenatal month; 60 % of the deliveries are
  followed by "currently breastfeeding" within 8 weeks, half of those by "not currently
  breastfeeding" 3 to 9 months later.

Every draw comes from streams of their own, so the other tables of a seed are unchanged.

    >>> ANSWERS[CURRENT]
    '449868002'
"""

from __future__ import annotations

import numpy as np

from criteria_dsl import status_facts as F
from matcher.synth._common import stream, uniform_days
from matcher.synth.catalog import code_index, lab, unit_index
from matcher.synth.conditions import Conditions
from matcher.synth.events import Rows
from matcher.synth.population import Patients

ANSWERS: tuple[str, ...] = (
    F.CANONICAL_ANSWERS["current"],
    F.CANONICAL_ANSWERS["former"],
    F.CANONICAL_ANSWERS["never"],
    "77386006",  # pregnant
    "LA29252-6",  # currently breastfeeding
    "LA29253-4",  # not currently breastfeeding
)
"""The coded answers the generator writes (``value_code``), indexed by the ``answer`` column."""
CURRENT, FORMER, NEVER, PREGNANT, BREASTFEEDING, STOPPED = range(6)
NO_ANSWER = -1


def _answer_column(rows: Rows) -> None:
    """Give every row added before the status rows an empty answer."""
    if "answer" not in rows.extra:
        rows.extra["answer"] = [np.full(len(p), NO_ANSWER, dtype=np.int8) for p in rows.patient]


def _coded(rows: Rows, owner, date, code: int, answer: int) -> None:
    n = len(owner)
    rows.add(
        owner,
        date,
        code,
        value=np.full(n, np.nan),
        unit=np.zeros(n, np.int8),
        answer=np.full(n, answer, dtype=np.int8),
    )


def add_smoking(rows: Rows, pat: Patients, seed: int, chunk: int) -> None:
    """Smoking-status records and quantities (see the module docstring)."""
    _answer_column(rows)
    rng = stream(seed, chunk, 90)
    n = len(pat)
    adult_from = np.maximum(pat.obs_start, pat.birth + int(15 * 365.25)).astype(np.int64)
    has = np.flatnonzero((adult_from <= pat.obs_end) & (rng.random(n) < 0.75))
    status = rng.choice(3, size=len(has), p=(0.25, 0.25, 0.5)).astype(np.int8)
    date = uniform_days(rng, adult_from[has], pat.obs_end[has])
    rows.add(
        has,
        date,
        lab("smoking_status"),
        value=np.full(len(has), np.nan),
        unit=np.zeros(len(has), np.int8),
        answer=status,
    )
    quits = (status == CURRENT) & (rng.random(len(has)) < 0.25)
    later = uniform_days(rng, date[quits], pat.obs_end[has[quits]])
    _coded(rows, has[quits], later, lab("smoking_status"), FORMER)
    smoked = status != NEVER
    with_py = smoked & (rng.random(len(has)) < 0.6)
    pack_years = np.round(rng.gamma(2.0, 10.0, int(with_py.sum())), 1)
    _quantity(rows, has[with_py], date[with_py], "pack_years", pack_years, "{pack-years}")
    with_cpd = (status == CURRENT) & (rng.random(len(has)) < 0.5)
    per_day = rng.integers(5, 31, int(with_cpd.sum())).astype(np.float64)
    _quantity(rows, has[with_cpd], date[with_cpd], "cigarettes_per_day", per_day, "{cigarettes}/d")


def _quantity(rows: Rows, owner, date, name: str, values: np.ndarray, unit: str) -> None:
    n = len(values)
    rows.add(
        owner,
        date,
        lab(name),
        value=values,
        unit=np.full(n, unit_index(unit), np.int8),
        answer=np.full(n, NO_ANSWER, np.int8),
    )


def add_pregnancy_answers(rows: Rows, pat: Patients, cond: Conditions, seed: int, chunk: int):
    """Pregnancy-status and breastfeeding-status observations of the pregnancy episodes."""
    _answer_column(rows)
    rng = stream(seed, chunk, 91)
    preg = cond.pregnancy
    n = len(preg.patient)
    asked = rng.random(n) < 0.3
    when = uniform_days(rng, preg.start[asked] + 60, preg.end[asked] - 30)
    owner = preg.patient[asked]
    inside = when <= pat.obs_end[owner]
    _coded(rows, owner[inside], when[inside], lab("pregnancy_status"), PREGNANT)
    delivered = _delivered(preg, pat, seed, chunk)
    feeds = delivered & (rng.random(n) < 0.6)
    start = uniform_days(rng, preg.end[feeds] + 7, preg.end[feeds] + 56)
    owner = preg.patient[feeds]
    inside = start <= pat.obs_end[owner]
    _coded(rows, owner[inside], start[inside], lab("breastfeeding_status"), BREASTFEEDING)
    stops = inside & (rng.random(len(owner)) < 0.5)
    stop = uniform_days(rng, start[stops] + 90, start[stops] + 270)
    owner = owner[stops]
    inside = stop <= pat.obs_end[owner]
    _coded(rows, owner[inside], stop[inside], lab("breastfeeding_status"), STOPPED)


def _delivered(preg, pat: Patients, seed: int, chunk: int) -> np.ndarray:
    """Which pregnancy episodes end with a recorded delivery (within the follow-up)."""
    rng = stream(seed, chunk, 92)
    return (rng.random(len(preg.patient)) < 0.7) & (preg.end <= pat.obs_end[preg.patient])


def add_deliveries(
    rows: Rows, pat: Patients, cond: Conditions, icpc: np.ndarray, seed: int, chunk: int
) -> None:
    """Delivery diagnoses on the last day of 70 % of the pregnancies."""
    preg = cond.pregnancy
    delivered = _delivered(preg, pat, seed, chunk)
    owner = preg.patient[delivered]
    rng = stream(seed, chunk, 93)
    icd = np.where(rng.random(len(owner)) < 0.5, code_index("O80"), code_index("Z37.0"))
    use_icpc = icpc[owner] & (rng.random(len(owner)) < 0.85)
    rows.add(owner, preg.end[delivered], np.where(use_icpc, code_index("W90"), icd))


def value_codes(answer: np.ndarray):
    """The ``value_code`` strings of the ``answer`` column (null where there is none)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = pa.array(list(ANSWERS), pa.string())
    return pc.take(table, pa.array(answer.astype(np.int32), mask=answer < 0))
