"""FHIR coded answers ↔ ``observations.value_code`` (issue 18: smoking, pregnancy,
breast-feeding).

Reading: an Observation's ``valueCodeableConcept`` gives ``value_code`` from its SNOMED CT
coding, else its LOINC coding (answer codes ``LA…``); other systems give none. The resource
reader (:func:`answer_code`) and the batch reader (:func:`answer_code_expr`) agree.

Writing (synthetic practice exports): a smoking status is an Observation in the US Core shape
(category ``social-history``, LOINC 72166-2, SNOMED CT answer); pregnancy and breastfeeding
status likewise (:func:`coded_value`).

    >>> answer_code({"coding": [{"system": "http://loinc.org", "code": "LA29252-6"},
    ...     {"system": "http://snomed.info/sct", "code": "8517006"}]})
    '8517006'
    >>> coded_value("LA29253-4")["coding"][0]["system"]
    'http://loinc.org'
"""

from __future__ import annotations

from typing import Any

import polars as pl

from criteria_dsl import status_facts as F

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ANSWER_SYSTEMS: tuple[str, ...] = (SNOMED, LOINC)
"""Systems read for a coded answer, in order of preference."""

SOCIAL_HISTORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "social-history",
        }
    ]
}

_LABELS: dict[str, str] = {
    **{code: label for code, (_, label) in F.SMOKING_ANSWERS.items()},
    **{code: label for code, (_, label) in F.PREGNANCY_ANSWERS.items()},
    **{code: label for code, (_, label) in F.BREASTFEEDING_ANSWERS.items()},
}


def answer_code(concept: object) -> str | None:
    """The answer code of a ``valueCodeableConcept`` (SNOMED CT first, then LOINC)."""
    if not isinstance(concept, dict):
        return None
    codings = [c for c in concept.get("coding") or [] if isinstance(c, dict)]
    for system in ANSWER_SYSTEMS:
        for coding in codings:
            code = coding.get("code")
            if coding.get("system") == system and isinstance(code, str) and code.strip():
                return code.strip()
    return None


def answer_code_expr(concept: pl.Expr) -> pl.Expr:
    """:func:`answer_code` over a column of ``{coding: [{system, code}]}`` structs."""
    codings = concept.struct.field("coding")
    out = pl.lit(None, pl.String)
    for system in reversed(ANSWER_SYSTEMS):  # the first system wins: applied last
        found = codings.list.eval(
            pl.element()
            .filter(
                (pl.element().struct.field("system") == system)
                & (pl.element().struct.field("code").str.strip_chars().str.len_chars() > 0)
            )
            .struct.field("code")
            .str.strip_chars()
            .first()
        ).list.first()
        out = pl.coalesce(found, out)
    return out


def coded_value(code: str) -> dict[str, Any]:
    """A ``valueCodeableConcept`` for an answer code (LOINC for ``LA…`` codes, else SNOMED)."""
    system = LOINC if code.startswith("LA") else SNOMED
    coding = {"system": system, "code": code}
    if code in _LABELS:
        coding["display"] = _LABELS[code]
    return {"coding": [coding]}
