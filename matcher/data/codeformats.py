"""The shape of a well-formed code in each known code system (a format check, not a lookup).

The patterns are applied to the distinct codes of a table, never row by row. A code that does not
fit is a warning: the data stays usable, but criteria cannot match that code.

    >>> import re
    >>> bool(re.fullmatch(CODE_PATTERNS["icd10"], "E11.9"))
    True
    >>> bool(re.fullmatch(CODE_PATTERNS["atc"], "A10BA02"))
    True
    >>> bool(re.fullmatch(CODE_PATTERNS["loinc"], "4548-4"))
    True
"""

from __future__ import annotations

import polars as pl

CODE_PATTERNS: dict[str, str] = {
    "icd10": r"^[A-Z]\d{2}(\.\d{1,2})?$",
    "icpc2": r"^(-\d{2}|[A-Z]\d{2})$",
    "atc": r"^[A-Z](\d{2}([A-Z]([A-Z](\d{2})?)?)?)?$",
    "loinc": r"^\d{1,7}-\d$",
}
"""Regular expressions (matched after stripping surrounding blanks) per system name."""


def well_formed(system: pl.Expr, code: pl.Expr) -> pl.Expr:
    """True where ``code`` fits its system's pattern, or the system has no known pattern.

    >>> df = pl.DataFrame({"s": ["icd10", "icd10", "snomed"], "c": ["E11", "E1", "xyz"]})
    >>> df.select(well_formed(pl.col("s"), pl.col("c")).alias("ok"))["ok"].to_list()
    [True, False, True]
    """
    stripped = code.str.strip_chars()
    expr: pl.Expr = pl.lit(True)
    for name, pattern in CODE_PATTERNS.items():
        expr = pl.when(system == name).then(stripped.str.contains(pattern)).otherwise(expr)
    return expr.fill_null(True)
