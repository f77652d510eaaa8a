"""Converting stored columns to the contract types, with a flag for values that do not convert.

Stored types are accepted when the conversion cannot lose information:

=============  ========================================================================
contract type  accepted stored types
=============  ========================================================================
string         string, categorical, enum, integer (written as decimal text)
integer        any integer type (range-checked), string holding a decimal integer
float          any integer or float type, string holding a number
date           date, datetime (the date part), string ``YYYY-MM-DD``
boolean        boolean, integer 0/1, string ``true``/``false``/``1``/``0`` (any case)
=============  ========================================================================

In strings (every CSV column), an empty or blank field is a null. Each conversion comes in two
flavours: non-strict (bad values become null, and ``bad`` flags them, for the validator) and
strict (bad values raise at collect time, for the loader once data has been validated).

    >>> import polars as pl
    >>> conv = conversion("d", pl.String(), pl.Date(), strict=False)
    >>> df = pl.DataFrame({"d": ["2024-02-29", "29/02/2024", ""]})
    >>> df.select(conv.value, conv.bad.alias("bad"))["bad"].to_list()
    [False, True, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

DATE_FORMAT = "%Y-%m-%d"
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False}


@dataclass(frozen=True)
class Conversion:
    """How one stored column becomes its contract type."""

    value: pl.Expr
    """The converted column, named like the source column."""
    bad: pl.Expr | None
    """True on rows whose non-null stored value did not convert (``None``: cannot fail)."""
    expected: str
    """What a valid value looks like, for messages: ``integers``, ``dates YYYY-MM-DD``..."""
    nonfinite: pl.Expr | None = None
    """Float columns: true on rows whose stored value was NaN or infinite (read as null)."""


def finite_or_null(value: pl.Expr) -> pl.Expr:
    """``value`` with NaN and ±infinity replaced by null: such a value is missing, never a
    number that compares (see docs/data-contract.md, "Numbers").

    >>> df = pl.DataFrame({"v": [7.5, float("nan"), float("inf"), None]})
    >>> df.select(finite_or_null(pl.col("v")))["v"].to_list()
    [7.5, None, None, None]
    """
    return pl.when(value.is_finite()).then(value)


def _kind(dtype: pl.DataType) -> str:
    if dtype == pl.String:
        return "string"
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return "categorical"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "float"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Null:
        return "null"
    return "other"


def expected_text(target: pl.DataType) -> str:
    """Words for the values a contract type accepts.

    >>> expected_text(pl.Int32())
    'integers'
    """
    if target.is_integer():
        return "integers"
    if target.is_float():
        return "numbers"
    if target == pl.Date:
        return "dates YYYY-MM-DD"
    if target == pl.Boolean:
        return "booleans (true/false)"
    return "text"


def _blank_to_null(col: pl.Expr) -> pl.Expr:
    return pl.when(col.str.strip_chars() == "").then(None).otherwise(col)


def _int_in_range(col: pl.Expr, target: pl.DataType) -> pl.Expr:
    """An Int64 column's values that fit ``target``; others null (bad flags them)."""
    info = {
        pl.Int8: (-(2**7), 2**7 - 1),
        pl.Int16: (-(2**15), 2**15 - 1),
        pl.Int32: (-(2**31), 2**31 - 1),
    }
    for dtype, (lo, hi) in info.items():
        if target == dtype:
            return pl.when(col.is_between(lo, hi)).then(col).otherwise(None)
    return col


def conversion(
    name: str, stored: pl.DataType, target: pl.DataType, *, strict: bool
) -> Conversion | None:
    """The conversion of column ``name`` from ``stored`` to ``target``; ``None`` if refused.

    Non-strict conversions keep integers as ``Int64`` (so range checks see the stored value);
    strict ones produce exactly ``target``.

    >>> conversion("x", pl.Boolean(), pl.Int32(), strict=False) is None
    True
    """
    src = pl.col(name)
    kind = _kind(stored)
    expected = expected_text(target)
    if kind == "null":
        return Conversion(pl.lit(None, dtype=target).alias(name), None, expected)
    if strict and stored == target:
        # Already validated and stored in the contract type: pass the column through untouched
        # so the engine keeps projection and predicate pushdown (no per-row string work).
        if target.is_float():
            return Conversion(finite_or_null(src).alias(name), None, expected)
        return Conversion(src, None, expected)
    if kind in ("categorical",):
        src = src.cast(pl.String)
        kind = "string"
    if kind == "string":
        src = _blank_to_null(src)
    value: pl.Expr | None = None
    if target == pl.String:
        if kind == "string":
            value = src
        elif kind == "integer":
            value = src.cast(pl.String)
    elif target.is_integer():
        if kind == "integer":
            value = src.cast(pl.Int64, strict=strict)
        elif kind == "string":
            value = src.str.strip_chars().cast(pl.Int64, strict=strict)
        if value is not None:
            value = value if strict else _int_in_range(value, target)
    elif target.is_float():
        if kind in ("integer", "float"):
            value = src.cast(pl.Float64)
        elif kind == "string":
            value = src.str.strip_chars().cast(pl.Float64, strict=strict)
    elif target == pl.Date:
        if kind == "date":
            value = src
        elif kind == "datetime":
            value = src.dt.date()
        elif kind == "string":
            value = src.str.strip_chars().str.to_date(DATE_FORMAT, strict=strict)
    elif target == pl.Boolean:
        if kind == "boolean":
            value = src
        elif kind == "integer":
            value = src.replace_strict({0: False, 1: True}, default=None, return_dtype=pl.Boolean)
            if strict:
                value = src.replace_strict({0: False, 1: True}, return_dtype=pl.Boolean)
        elif kind == "string":
            text = src.str.strip_chars().str.to_lowercase()
            if strict:
                value = text.replace_strict(_BOOL_TEXT, return_dtype=pl.Boolean)
            else:
                value = text.replace_strict(_BOOL_TEXT, default=None, return_dtype=pl.Boolean)
    if value is None:
        return None
    if strict:
        value = value.cast(target, strict=True)
    can_fail = not (kind == target_kind(target) or (kind == "integer" and target.is_float()))
    bad = (src.is_not_null() & value.is_null()) if can_fail or target.is_integer() else None
    nonfinite = None
    if target.is_float():
        nonfinite = value.is_nan() | value.is_infinite()
        value = finite_or_null(value)
    return Conversion(value.alias(name), bad, expected, nonfinite)


def target_kind(target: pl.DataType) -> str:
    """The :func:`_kind` name of a contract type (``Int32`` → ``integer``)."""
    return _kind(target)


def type_name(dtype: pl.DataType) -> str:
    """A short name of a stored type for messages (``String``, ``Int64``, ``Boolean``)."""
    return str(dtype).split("(")[0]
