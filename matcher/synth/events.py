"""Encounters and diagnosis records, plus the column bundle every event builder returns.

Encounters follow an age- and morbidity-dependent yearly rate with a gamma frailty (some
patients consult much more than others); home visits rise with age, teleconsultations appear
after March 2020. Diagnoses are recorded at onset (or during the first year of follow-up for a
condition that predates it) and re-coded at later visits; the code system follows the practice
(ICPC-2 practices code 85 % in ICPC-2, ICD-10 practices 90 % in ICD-10).

    >>> kinds = ENCOUNTER_KINDS
    >>> kinds
    ('office', 'home', 'tele', 'admission', 'emergency')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matcher.synth._common import TELE_FROM, YEAR, expand, stream, uniform_days
from matcher.synth.catalog import code_index
from matcher.synth.conditions import CHRONIC, Conditions
from matcher.synth.population import Patients, Practices

ENCOUNTER_KINDS = ("office", "home", "tele", "admission", "emergency")
"""Kinds of the generated encounters; admissions and emergency visits (issue 18) are added by
:mod:`matcher.synth.procedures` and happen outside the practice (null ``practice_id``)."""
OUTSIDE_KINDS = (3, 4)
"""Indices of :data:`ENCOUNTER_KINDS` of the contacts outside the practice."""
ICPC_SHARE_IN_ICPC_PRACTICE = 0.85
ICPC_SHARE_IN_ICD_PRACTICE = 0.10
RECODE_PER_YEAR = 0.7

# condition: (ICD-10 variants, their probabilities, ICPC-2 variants, their probabilities)
_E11 = ("E11.9", "E11.2", "E11.3", "E11.4", "E11.5", "E11.6", "E11.7", "E11.8", "E11.0", "E11.1")
DX_CODES: dict[str, tuple[tuple[str, ...], tuple[float, ...], tuple[str, ...], tuple[float, ...]]]
DX_CODES = {
    "t2d": (_E11, (0.8, 0.04, 0.03, 0.03, 0.03, 0.02, 0.02, 0.01, 0.01, 0.01), ("T90",), (1,)),
    "t1d": (("E10.9",), (1,), ("T89",), (1,)),
    "hta": (("I10",), (1,), ("K86", "K87"), (0.8, 0.2)),
    "dyslip": (("E78.0", "E78.5"), (0.35, 0.65), ("T93",), (1,)),
    "copd": (("J44.9", "J44.1", "J44.0"), (0.7, 0.2, 0.1), ("R95",), (1,)),
    "asthma": (("J45.9", "J45.0"), (0.7, 0.3), ("R96",), (1,)),
    "af": (("I48.9", "I48.0", "I48.1"), (0.4, 0.3, 0.3), ("K78",), (1,)),
    "hf": (("I50.9", "I50.0", "I50.1"), (0.6, 0.3, 0.1), ("K77",), (1,)),
    "obesity": (("E66.9", "E66.0"), (0.6, 0.4), ("T82",), (1,)),
    "osteo": (("M81.9", "M81.0"), (0.6, 0.4), ("L95",), (1,)),
    "ckd": (("N18.1", "N18.2", "N18.3", "N18.4", "N18.5", "N18.9"), (), ("U99",), (1,)),
    "depression": (("F32.0", "F32.1", "F32.2", "F32.3", "F32.8", "F32.9"), (), ("P76",), (1,)),
    "pregnancy": (("Z34.9", "Z33"), (0.75, 0.25), ("W78",), (1,)),
}
_DEPRESSION_PROBS = (0.15, 0.35, 0.1, 0.02, 0.03, 0.35)

# rare conditions, coded in ICD-10 by every practice (specialist letters): ICD-10 variants and
# their probabilities, lowest age, share of patients by age band <40, 40-59, 60-74, 75+ (at
# the end of follow-up). Drawn from a random stream of their own, after everything else, so
# the rest of a population does not change with them.
RARE: dict[str, tuple[tuple[str, ...], tuple[float, ...], int, tuple[float, ...]]] = {
    "mitral_stenosis": (("I05.0",), (1,), 18, (0.0002, 0.0005, 0.0015, 0.003)),
    "polycystic_kidney": (("Q61.3", "Q61.2"), (0.7, 0.3), 18, (0.0008, 0.001, 0.001, 0.001)),
    "bipolar": (("F31.9", "F31.3", "F31.6"), (0.6, 0.3, 0.1), 16, (0.01, 0.01, 0.007, 0.005)),
    "psychosis": (("F20.9", "F20.0", "F25.9", "F29"), (0.4, 0.3, 0.1, 0.2), 16, (0.007,) * 4),
    "dementia": (("F03", "F00.9", "F01.9"), (0.5, 0.35, 0.15), 60, (0.0, 0.0, 0.02, 0.1)),
}
_RARE_BANDS = np.array([40, 60, 75])


@dataclass
class Rows:
    """Columns of event rows for one table: owner patient (chunk row), day, code index, extras."""

    patient: list[np.ndarray] = field(default_factory=list)
    date: list[np.ndarray] = field(default_factory=list)
    code: list[np.ndarray] = field(default_factory=list)
    extra: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, patient: np.ndarray, date: np.ndarray, code: np.ndarray, **extra: np.ndarray):
        n = len(patient)
        self.patient.append(np.asarray(patient, dtype=np.int32))
        self.date.append(np.asarray(date, dtype=np.int32))
        self.code.append(np.broadcast_to(np.asarray(code, dtype=np.int16), (n,)))
        for key, values in extra.items():
            self.extra.setdefault(key, []).append(np.broadcast_to(values, (n,)))

    def columns(self) -> dict[str, np.ndarray]:
        """Concatenate the parts into one array per column."""
        out = {
            "patient": np.concatenate(self.patient),
            "date": np.concatenate(self.date),
            "code": np.concatenate(self.code),
        }
        out.update({k: np.concatenate(v) for k, v in self.extra.items()})
        return out


def build_encounters(
    pat: Patients, cond: Conditions, seed: int, chunk: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Encounter rows: (patient, day, kind index)."""
    rng = stream(seed, chunk, 30)
    age = pat.age_at((pat.obs_start.astype(np.int64) + pat.obs_end) // 2)
    base = np.select(
        [age < 2, age < 18, age < 40, age < 60, age < 75], [5.0, 1.8, 2.2, 2.7, 3.6], 5.5
    )
    n_chronic = sum(cond.has(c).astype(np.float64) for c in CHRONIC)
    years = (pat.obs_end - pat.obs_start + 1) / YEAR
    rate = (base + 0.7 * n_chronic) * rng.gamma(2.0, 0.5, len(pat))
    owner, _ = expand(rng.poisson(rate * years))
    date = uniform_days(rng, pat.obs_start[owner], pat.obs_end[owner])
    # prenatal visits: one a month on average during each pregnancy
    preg = cond.pregnancy
    p_owner, _ = expand(np.full(len(preg.patient), 6))
    p_pat = preg.patient[p_owner]
    p_date = np.minimum(
        uniform_days(rng, preg.start[p_owner], preg.end[p_owner]), pat.obs_end[p_pat]
    )
    owner = np.concatenate([owner, p_pat])
    date = np.concatenate([date, p_date])
    a = pat.age_at(date, owner)
    p_home = np.where(a >= 85, 0.28, np.where(a >= 75, 0.1, 0.015))
    p_tele = np.where(date >= TELE_FROM, 0.08, 0.003)
    u = rng.random(len(owner))
    kind = np.where(u < p_home, 1, np.where(u < p_home + p_tele, 2, 0)).astype(np.int8)
    return owner.astype(np.int32), date, kind


def _variant(rng: np.random.Generator, n: int, probs: tuple[float, ...]) -> np.ndarray:
    return np.searchsorted(np.cumsum(probs) / np.sum(probs), rng.random(n), side="right")


def _code_rows(
    rows: Rows,
    rng: np.random.Generator,
    name: str,
    owner: np.ndarray,
    date: np.ndarray,
    icd_variant: np.ndarray,
    icpc: np.ndarray,
) -> None:
    """Add diagnosis rows, choosing ICD-10 or ICPC-2 per row from the practice's habit."""
    icd_codes, _, icpc_codes, icpc_probs = DX_CODES[name]
    icd_idx = np.array([code_index(c) for c in icd_codes], dtype=np.int16)
    icpc_idx = np.array([code_index(c) for c in icpc_codes], dtype=np.int16)
    p_icpc = np.where(icpc, ICPC_SHARE_IN_ICPC_PRACTICE, ICPC_SHARE_IN_ICD_PRACTICE)
    use_icpc = rng.random(len(owner)) < p_icpc
    icpc_code = icpc_idx[_variant(rng, len(owner), icpc_probs)]
    rows.add(owner, date, np.where(use_icpc, icpc_code, icd_idx[icd_variant]))


def build_diagnoses(
    pat: Patients,
    practices: Practices,
    cond: Conditions,
    encounters: tuple[np.ndarray, np.ndarray, np.ndarray],
    seed: int,
    chunk: int,
) -> Rows:
    """Diagnosis rows for chronic conditions, depressive episodes, pregnancies, check-ups."""
    rng = stream(seed, chunk, 40)
    rows = Rows()
    icpc_practice = practices.icpc[pat.practice]
    n = len(pat)
    for name in CHRONIC:
        has = np.flatnonzero(cond.has(name))
        first = cond.recorded[name][has]
        years = (pat.obs_end[has] - first) / YEAR
        owner_k, rank = expand(1 + rng.poisson(RECODE_PER_YEAR * years))
        owner = has[owner_k]
        date = np.where(
            rank == 0, first[owner_k], uniform_days(rng, first[owner_k], pat.obs_end[owner])
        )
        if name == "ckd":
            stage = cond.ckd_stage.astype(np.int64) - 1
            variant = np.where(rng.random(n) < 0.1, 5, stage)
        else:
            variant = _variant(rng, n, DX_CODES[name][1])
        _code_rows(rows, rng, name, owner, date, variant[owner], icpc_practice[owner])

    dep = cond.depression
    owner_k, _ = expand(1 + rng.poisson(1.5, len(dep.patient)))
    owner = dep.patient[owner_k]
    date = uniform_days(rng, dep.start[owner_k], dep.end[owner_k])
    variant = _variant(rng, n, _DEPRESSION_PROBS)[owner]
    recurrent = dep.flag[owner_k]
    icd = np.where(
        recurrent,
        code_index("F33.1"),
        np.array([code_index(c) for c in DX_CODES["depression"][0]])[variant],
    )
    use_icpc = rng.random(len(owner)) < np.where(icpc_practice[owner], 0.85, 0.10)
    rows.add(owner, date, np.where(use_icpc, code_index("P76"), icd))

    preg = cond.pregnancy
    owner_k, _ = expand(2 + rng.poisson(2.0, len(preg.patient)))
    owner = preg.patient[owner_k]
    date = np.minimum(uniform_days(rng, preg.start[owner_k], preg.end[owner_k]), pat.obs_end[owner])
    _code_rows(
        rows,
        rng,
        "pregnancy",
        owner,
        date,
        _variant(rng, len(owner), (0.75, 0.25)),
        icpc_practice[owner],
    )
    gdm = np.flatnonzero(preg.flag)
    owner_k, _ = expand(1 + rng.poisson(1.0, len(gdm)))
    g = gdm[owner_k]
    owner = preg.patient[g]
    date = np.minimum(uniform_days(rng, preg.start[g] + 170, preg.end[g]), pat.obs_end[owner])
    use_icpc = rng.random(len(owner)) < np.where(icpc_practice[owner], 0.85, 0.10)
    rows.add(owner, date, np.where(use_icpc, code_index("W84"), code_index("O24.4")))

    enc_owner, enc_date, _ = encounters
    check = icpc_practice[enc_owner] & (rng.random(len(enc_owner)) < 0.04)
    rows.add(enc_owner[check], enc_date[check], code_index("A97"))
    _rare_diagnoses(rows, pat, stream(seed, chunk, 41))
    return rows


def _rare_diagnoses(rows: Rows, pat: Patients, rng: np.random.Generator) -> None:
    """Diagnosis rows of the :data:`RARE` conditions: first coded at a uniform day of the
    follow-up after the lowest age, then re-coded at about 0.7 visits a year."""
    age_end = pat.age_at(pat.obs_end)
    band = np.searchsorted(_RARE_BANDS, age_end, side="right")
    for codes, probs, min_age, shares in RARE.values():
        has = np.flatnonzero(
            (rng.random(len(pat)) < np.asarray(shares)[band]) & (age_end >= min_age)
        )
        start = np.maximum(
            pat.obs_start[has].astype(np.int64),
            pat.birth[has].astype(np.int64) + int(min_age * YEAR),
        )
        start = np.minimum(start, pat.obs_end[has]).astype(np.int64)
        first = uniform_days(rng, start, pat.obs_end[has])
        years = (pat.obs_end[has] - first) / YEAR
        owner_k, rank = expand(1 + rng.poisson(RECODE_PER_YEAR * years))
        owner = has[owner_k]
        date = np.where(
            rank == 0, first[owner_k], uniform_days(rng, first[owner_k], pat.obs_end[owner])
        )
        index = np.array([code_index(c) for c in codes], dtype=np.int16)
        rows.add(owner, date, index[_variant(rng, len(has), probs)][owner_k])
