"""Loader for the LOINC table (``Loinc.csv`` of the official LOINC distribution).

Columns used: ``LOINC_NUM``, ``LONG_COMMON_NAME`` (label), ``SHORTNAME``, ``COMPONENT`` and
``STATUS``; each code's check digit is verified. LOINC is free to use under the LOINC licence
(Regenstrief Institute) but the table is not shipped: install it from your own download.
"""

from __future__ import annotations

from pathlib import Path

from terminology.errors import TerminologyError
from terminology.hierarchy import ConceptRow
from terminology.loaders._common import dict_rows, na, open_text
from terminology.store import LoadedTable
from terminology.systems import normalise_code, validate_code

LICENCE = "LOINC (c) Regenstrief Institute, LOINC licence; installed from the user's copy"


def load_loinc(path: Path, version: str | None = None) -> list[LoadedTable]:
    """Read ``Loinc.csv``; the version must be given (e.g. '2.80')."""
    if not version:
        raise TerminologyError(f"{path}: pass --version with the LOINC release (e.g. 2.80)")
    rows: list[ConceptRow] = []
    seen: set[str] = set()
    required = ("LOINC_NUM", "LONG_COMMON_NAME")
    for line, row in dict_rows(open_text(path), path, required):
        code = normalise_code("loinc", row["LOINC_NUM"])
        error = validate_code("loinc", code)
        if error:
            raise TerminologyError(f"{path}: line {line}: column 'LOINC_NUM': {error}")
        if code in seen:
            raise TerminologyError(f"{path}: line {line}: code {code!r} appears twice")
        seen.add(code)
        label = na(row["LONG_COMMON_NAME"]) or na(row.get("SHORTNAME")) or na(row.get("COMPONENT"))
        rows.append(ConceptRow(code, None, label, None))
    return [LoadedTable("loinc", version, tuple(rows), path.name, LICENCE, "loinc")]
