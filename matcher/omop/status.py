"""Coded answers of OMOP observations and measurements → ``observations.value_code`` (issue 18).

OMOP records a coded result in ``value_as_concept_id`` (the LOINC smoking status 72166-2 with
the SNOMED CT answer "Former smoker", a pregnancy status with "Pregnant"); the answer's
``concept_code`` becomes ``value_code``. When the concept is absent from CONCEPT (or the id
is 0), ``value_source_value`` is kept if it is one of the answers the language reads. Some
exports record a smoking or pregnancy *finding* as the observation concept itself (SNOMED CT
449868002 "Smokes tobacco daily" in OBSERVATION); such a row becomes the matching status
observation (LOINC 72166-2 or 82810-3) with the finding as its answer, so the same rules read
both shapes.

    >>> import polars as pl
    >>> rows = pl.LazyFrame({"system": ["snomed", "loinc"], "code": ["8517006", "72166-2"],
    ...                      "value_code": [None, "266919005"]})
    >>> findings_as_status(rows).collect().rows()
    [('loinc', '72166-2', '8517006', True), ('loinc', '72166-2', '266919005', False)]
"""

from __future__ import annotations

import polars as pl

from criteria_dsl import status_facts as F
from matcher.omop.common import optional
from matcher.omop.vocabulary import Vocabulary, _concept_id

KNOWN_ANSWERS: tuple[str, ...] = tuple(
    sorted({*F.SMOKING_ANSWERS, *F.PREGNANCY_ANSWERS, *F.BREASTFEEDING_ANSWERS})
)
"""Answer codes read by the language (kept from ``value_source_value`` when no concept)."""

FINDING_TO_STATUS: dict[str, str] = {
    **{code: "72166-2" for code in F.SMOKING_ANSWERS},
    "77386006": "82810-3",  # Pregnant
    "60001007": "82810-3",  # Not pregnant
}
"""SNOMED CT findings recorded as the observation concept → the status observation code."""


def with_value_code(lf: pl.LazyFrame, vocab: Vocabulary) -> pl.LazyFrame:
    """Add ``value_code``: the code of ``value_as_concept_id``, else a known answer written in
    ``value_source_value``, else null."""
    answers = vocab.concepts.select(_answer_id="concept_id", _answer_code="concept_code")
    source = optional(lf, "value_source_value").cast(pl.String).str.strip_chars()
    lf = lf.with_columns(
        _answer_id=_concept_id(optional(lf, "value_as_concept_id")),
        _answer_source=pl.when(source.is_in(list(KNOWN_ANSWERS))).then(source),
    ).join(answers, on="_answer_id", how="left", maintain_order="left")
    return lf.with_columns(value_code=pl.coalesce("_answer_code", "_answer_source"))


def findings_as_status(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Rewrite smoking and pregnancy findings recorded as the concept into status rows; adds
    ``_finding`` (the row was rewritten)."""
    code = pl.col("code")
    finding = (pl.col("system") == "snomed") & code.is_in(list(FINDING_TO_STATUS))
    return lf.with_columns(
        system=pl.when(finding).then(pl.lit("loinc")).otherwise(pl.col("system")),
        code=pl.when(finding)
        .then(code.replace_strict(FINDING_TO_STATUS, default=None))
        .otherwise(code),
        value_code=pl.when(finding).then(code).otherwise(pl.col("value_code")),
        _finding=finding,
    )
