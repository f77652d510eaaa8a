"""Distinct ATC classes among prescriptions (``at least 2 distinct classes of x at ATC level 3``).

A prescription row falls in the class of level ``K`` named by the first
:data:`~criteria_dsl.ir.ATC_LEVEL_LENGTHS` ``[K]`` characters of its ATC code; a row of another
system, or an ATC code shorter than that (a level-3 code for a level-4 count), names no class of
that level and is not counted. The scan plan's reduction is ``nclass<K>`` (rows in the set) and
``nclass<K>q`` (rows that are or may be in it, when the set's dose or value filter meets values
that cannot be converted: the count then lies between the two, as for distinct drugs).

    >>> rows = pl.DataFrame({"system": ["atc", "atc", "atc", "atc", "cip13"],
    ...                      "code": ["C09AA02", "C09AA05", "C03AA03", "C09A", "C09AA02"]})
    >>> rows.select(reduction("nclass4", pl.lit(True), pl.lit(False))).item()  # C09AA, C03AA
    2
    >>> rows.select(reduction("nclass3", pl.lit(True), pl.lit(False))).item()  # C09A, C03A
    2
    >>> rows.select(reduction("nclass1", pl.lit(True), pl.lit(False))).item()  # C
    1
"""

from __future__ import annotations

import polars as pl

from criteria_dsl.ir import ATC_LEVEL_LENGTHS

PREFIX = "nclass"
NEEDS: tuple[str, ...] = tuple(
    f"{PREFIX}{level}{q}" for level in ATC_LEVEL_LENGTHS for q in ("", "q")
)
"""Every reduction name this module computes."""


def need(level: int) -> str:
    """The reduction counting the classes of ``level`` (``nclass3``)."""
    return f"{PREFIX}{level}"


def is_need(kind: str) -> bool:
    """Whether ``kind`` is one of this module's reductions."""
    return kind in NEEDS


def class_key(level: int) -> pl.Expr:
    """The class of ``level`` of a prescription row; null when it names none."""
    length = ATC_LEVEL_LENGTHS[level]
    code = pl.col("code").cast(pl.String)
    named = (pl.col("system").cast(pl.String) == "atc") & (code.str.len_chars() >= length)
    return pl.when(named).then(code.str.slice(0, length))


def reduction(kind: str, mask: pl.Expr, maybe: pl.Expr) -> pl.Expr:
    """The distinct classes of the rows in the set (``mask``), with the rows that may be in it
    too (``maybe``) for a ``q`` reduction."""
    level = int(kind[len(PREFIX) :].rstrip("q"))
    rows = (mask | maybe) if kind.endswith("q") else mask
    key = class_key(level)
    return key.filter(rows & key.is_not_null()).n_unique().cast(pl.Int64)


__all__ = ["NEEDS", "class_key", "is_need", "need", "reduction"]
