"""Allergy and intolerance records at a plausible general-practice rate (issue 18).

About one patient in twenty has an allergy or intolerance recorded, most often to a
penicillin (the commonest drug allergy label in primary care), then drug intolerances
(metformin's digestive intolerance, statin myalgia, the ACE-inhibitor cough) and a few food
or latex allergies. A patient has one record, sometimes two; each is dated uniformly in the
follow-up. The kind is recorded as ``allergy`` or ``intolerance`` most of the time, and left
empty (unknown type) for about one record in five, as in real files. The records come from a
random stream of their own, after everything else, so the other tables do not change.

    >>> round(sum(w for w, _ in SHARES.values()), 6)
    1.0
"""

from __future__ import annotations

import numpy as np

from matcher.synth._common import expand, stream, uniform_days
from matcher.synth.catalog import ALLERGENS, code_index
from matcher.synth.events import Rows
from matcher.synth.population import Patients

RATE = 0.05
"""Share of patients with at least one allergy or intolerance recorded."""
SECOND = 0.2
"""Share of those with a second record."""
KINDS: tuple[str, ...] = ("allergy", "intolerance")
"""The values of ``kind`` (index -1: not recorded, null)."""
SHARES: dict[str, tuple[float, tuple[float, float]]] = {
    # substance: (share of the records, (P(kind allergy), P(kind intolerance))); the rest null
    "amoxicillin": (0.45, (0.75, 0.05)),
    "amoxicillin_clavulanate": (0.15, (0.7, 0.1)),
    "metformin": (0.08, (0.05, 0.75)),
    "simvastatin": (0.07, (0.05, 0.75)),
    "ramipril": (0.07, (0.1, 0.7)),
    "peanut": (0.1, (0.9, 0.0)),
    "latex": (0.08, (0.85, 0.05)),
}


def build_allergies(pat: Patients, seed: int, chunk: int) -> Rows:
    """Allergy rows of one chunk: (patient, day, substance code index), ``kind`` in extras
    (0 allergy, 1 intolerance, -1 not recorded)."""
    rng = stream(seed, chunk, 82)
    has = rng.random(len(pat)) < RATE
    counts = has.astype(np.int64) + (has & (rng.random(len(pat)) < SECOND))
    owner, _ = expand(counts)
    days = uniform_days(rng, pat.obs_start[owner], pat.obs_end[owner])
    names = list(SHARES)
    weights = np.array([SHARES[n][0] for n in names])
    which = rng.choice(len(names), size=len(owner), p=weights / weights.sum())
    draw = rng.random(len(owner))
    rows = Rows()
    for i, name in enumerate(names):
        mine = which == i
        p_allergy, p_intolerance = SHARES[name][1]
        kind = np.where(
            draw[mine] < p_allergy, 0, np.where(draw[mine] < p_allergy + p_intolerance, 1, -1)
        ).astype(np.int8)
        code = np.int16(code_index(ALLERGENS[name][1]))
        rows.add(owner[mine], days[mine], code, kind=kind)
    return rows
