"""OMOP ``procedure_occurrence`` → the contract's optional ``procedures`` table (issue 18).

Each row keeps the code of its source concept when the vocabulary names it (CCAM for French
hospital data, ICD-10-PCS, CPT-4, HCPCS), else the code of its standard concept (SNOMED CT for
Synthea exports), with the system of the contract (``ccam``, ``icd10pcs``, ``cpt``,
``snomed``): see :data:`matcher.omop.vocabulary.SYSTEMS`. Rows whose person, date or concept
cannot be resolved are counted in the import report under their reason, never dropped
silently. An export without ``procedure_occurrence`` gives no ``procedures`` table at all
(*not provided*: criteria on procedures are then unknown, not false).
"""

from __future__ import annotations

import polars as pl

from matcher.omop.events import _CODED, _coded_events, _count_from_standard, _start
from matcher.omop.reader import OmopSource
from matcher.omop.report import ImportReport
from matcher.omop.vocabulary import Vocabulary

PROCEDURE_COLUMNS = ("patient_id", "date", "system", "code")


def procedures(
    source: OmopSource, vocab: Vocabulary, index: pl.DataFrame, report: ImportReport
) -> list[pl.DataFrame] | None:
    """PROCEDURE_OCCURRENCE → procedures; None when the export has no such table."""
    t = _start(source, report, "procedure_occurrence")
    if t is None:
        return None
    lf = _coded_events(source, vocab, index, "procedure_occurrence", "procedure", "procedure_date")
    df = lf.select(*_CODED).collect()
    t.count_reasons(df)
    _count_from_standard(t, df)
    ok = df.filter(pl.col("_reason").is_null())
    return [ok.select(PROCEDURE_COLUMNS)]
