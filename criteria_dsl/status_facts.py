"""The records behind smoking, pregnancy and breast-feeding facts (issue 18), in one place.

The engine (:mod:`matcher.engine.status`), the reference evaluator
(:mod:`matcher.reference_status`), the synthetic generator, the OMOP importer and the FHIR
mapping all read their codes from here; ``docs/criteria-language.md`` states the rules and
``docs/terminology.md`` where each code was checked.

Smoking status answers are SNOMED CT codes in ``observations.value_code``; each answer stands
for the set of statuses it allows, as a bit mask (current 1, former 2, never 4): "Smoker,
current status unknown" allows current or former, an unknown or unrecognised answer allows
all three.

    >>> smoking_mask("8517006"), smoking_mask("77176002"), smoking_mask(None)
    (2, 3, 7)
    >>> status_mask(("current", "former"))
    3
    >>> is_prefix_match("icd10", "O24.4", PREGNANCY_DIAGNOSES), is_prefix_match(
    ...     "icd10", "O80.0", PREGNANCY_DIAGNOSES)
    (True, False)
"""

from __future__ import annotations

from collections.abc import Mapping

# ---- smoking -------------------------------------------------------------------------------

CURRENT, FORMER, NEVER = 1, 2, 4
ANY_STATUS = CURRENT | FORMER | NEVER
STATUS_BITS: dict[str, int] = {"current": CURRENT, "former": FORMER, "never": NEVER}

SMOKING_STATUS_CODES: tuple[tuple[str, str], ...] = (("loinc", "72166-2"),)
"""Observation codes whose ``value_code`` is a smoking status (LOINC Tobacco smoking status)."""

SMOKING_ANSWERS: dict[str, tuple[int, str]] = {
    # the US Core smoking status answers (SNOMED CT), and three common GP findings
    "449868002": (CURRENT, "Current every day smoker"),
    "428041000124106": (CURRENT, "Current some day smoker"),
    "428071000124103": (CURRENT, "Current heavy tobacco smoker"),
    "428061000124105": (CURRENT, "Current light tobacco smoker"),
    "65568007": (CURRENT, "Cigarette smoker"),
    "77176002": (CURRENT | FORMER, "Smoker, current status unknown"),
    "8517006": (FORMER, "Former smoker (ex-smoker)"),
    "8392000": (FORMER | NEVER, "Non-smoker"),
    "266919005": (NEVER, "Never smoked tobacco"),
    "266927001": (ANY_STATUS, "Unknown if ever smoked"),
}
"""Smoking-status answer → (the statuses it allows, English label)."""

CANONICAL_ANSWERS: dict[str, str] = {
    "current": "449868002",
    "former": "8517006",
    "never": "266919005",
}
"""The answer code written for each status (synthetic data, FHIR export)."""

SMOKING_QUANTITY_CODES: dict[str, tuple[tuple[str, str], ...]] = {
    "pack_years": (("loinc", "8664-5"), ("snomed", "401201003")),
    "cigarettes_per_day": (("loinc", "64218-1"),),
}
"""Observation codes holding each smoking quantity."""

QUANTITY_UNITS: dict[str, tuple[str, ...]] = {
    "pack_years": ("{pack-years}", "{pack_years}", "{packyears}", "pack-years", "1"),
    "cigarettes_per_day": ("{cigarettes}/d", "{cigarettes}/day", "/d", "1/d", "{cig}/d"),
}
"""Unit spellings read as the quantity itself (a missing unit is read so too); a value in any
other unit makes the quantity unknown."""

COTININE_CODES: tuple[tuple[str, str], ...] = (("loinc", "10365-5"),)
"""Cotinine in serum or plasma (a lab result: use it with the usual lab forms)."""


def smoking_mask(answer: str | None) -> int:
    """The statuses a smoking-status answer allows (unknown answers allow all)."""
    if answer is None:
        return ANY_STATUS
    return SMOKING_ANSWERS.get(answer.strip(), (ANY_STATUS, ""))[0]


HISTORY_MASKS: dict[str, tuple[int, int]] = {
    "stopped": (FORMER, FORMER | NEVER),
    "smoking": (CURRENT, CURRENT),
}
"""Issue 18, smoking history: per kind, the answer that must last (a record answered exactly
that starts the period) and the statuses the period allows (a record allowing another breaks
it; one allowing none of them refutes it)."""


def status_mask(statuses: tuple[str, ...]) -> int:
    """The bit mask of a set of statuses."""
    mask = 0
    for status in statuses:
        mask |= STATUS_BITS[status]
    return mask


# ---- pregnancy and breast-feeding ----------------------------------------------------------

STARTS, ENDS = 1, 2
"""Evidence bits: a record saying the state holds (starts), or that it does not (ends)."""


def _categories(letter: str, first: int, last: int) -> tuple[str, ...]:
    return tuple(f"{letter}{n:02d}" for n in range(first, last + 1))


PREGNANCY_DIAGNOSES: Mapping[str, tuple[str, ...]] = {
    # ICD-10: pregnancy confirmed, pregnant state, supervision of (high-risk) pregnancy,
    # antenatal screening, and the chapter XV codes of an ongoing pregnancy (O09-O48)
    "icd10": ("Z32.1", "Z33", "Z34", "Z35", "Z36", *_categories("O", 9, 48)),
    # ICPC-2: pregnancy, unwanted pregnancy, toxaemia, high-risk pregnancy, gestational diabetes
    "icpc2": ("W78", "W79", "W81", "W84", "W85"),
}
"""Diagnosis codes (and their descendants) that say the patient is pregnant on their date."""

PREGNANCY_END_DIAGNOSES: Mapping[str, tuple[str, ...]] = {
    # ICD-10: pregnancy with abortive outcome (O00-O08), delivery (O80-O84), puerperium
    # (O85-O92), outcome of delivery (Z37), postpartum care (Z39)
    "icd10": (
        *_categories("O", 0, 8),
        *_categories("O", 80, 92),
        "Z37",
        "Z39",
    ),
    # ICPC-2: ectopic pregnancy, abortions, deliveries, puerperal complications
    "icpc2": ("W80", "W82", "W83", "W90", "W91", "W92", "W93", "W94", "W96"),
}
"""Diagnosis codes (and their descendants) that say a pregnancy has ended on their date."""

PREGNANCY_STATUS_CODES: tuple[tuple[str, str], ...] = (("loinc", "82810-3"),)
PREGNANCY_ANSWERS: dict[str, tuple[int, str]] = {
    "77386006": (STARTS, "Pregnant"),
    "60001007": (ENDS, "Not pregnant"),
    "261665006": (0, "Unknown"),
}

BREASTFEEDING_DIAGNOSES: Mapping[str, tuple[str, ...]] = {
    "icd10": ("Z39.1",),  # care and examination of lactating mother
}
BREASTFEEDING_STATUS_CODES: tuple[tuple[str, str], ...] = (("loinc", "63895-7"),)
BREASTFEEDING_ANSWERS: dict[str, tuple[int, str]] = {
    "LA29252-6": (STARTS, "Currently breastfeeding"),
    "LA29253-4": (ENDS, "Not currently breastfeeding"),
}

STATE_WINDOW_DAYS: dict[str, int] = {"pregnant": 42 * 7, "breastfeeding": 26 * 7}
"""How long a record counts as evidence: 42 weeks for a pregnancy, 26 weeks for
breast-feeding (records dated more than this before the index date are not read)."""

STATE_RECORDS: dict[str, tuple[Mapping, Mapping, tuple, dict]] = {
    "pregnant": (
        PREGNANCY_DIAGNOSES,
        PREGNANCY_END_DIAGNOSES,
        PREGNANCY_STATUS_CODES,
        PREGNANCY_ANSWERS,
    ),
    "breastfeeding": (
        BREASTFEEDING_DIAGNOSES,
        {},
        BREASTFEEDING_STATUS_CODES,
        BREASTFEEDING_ANSWERS,
    ),
}
"""Per state: (start diagnoses, end diagnoses, status observation codes, answers)."""


def is_prefix_match(system: str, code: str, table: Mapping[str, tuple[str, ...]]) -> bool:
    """Whether ``code`` is one of the table's codes of ``system`` or below one (ICD-10 ``O24``
    covers ``O24.4``; ``Z32.1`` covers ``Z32.1`` and ``Z32.10`` but not ``Z32.0``)."""
    return any(is_under(code, p) for p in table.get(system, ()))


def is_under(code: str, prefix: str) -> bool:
    """``code`` is ``prefix`` or one of its descendants in dotted ICD/ICPC form."""
    if "." in prefix:
        return code.startswith(prefix)
    return code == prefix or code.startswith(prefix + ".")


def state_evidence(state: str, table: str, system: str, code: str, value_code: str | None) -> int:
    """The evidence bits one record gives for ``state`` (0: none)."""
    starts, ends, status_codes, answers = STATE_RECORDS[state]
    if table == "diagnoses":
        if is_prefix_match(system, code, ends):
            return ENDS
        return STARTS if is_prefix_match(system, code, starts) else 0
    if (system, code) in status_codes and value_code is not None:
        return answers.get(value_code.strip(), (0, ""))[0]
    return 0
