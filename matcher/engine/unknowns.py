"""Comparisons that values in an unconvertible unit make uncertain (Kleene logic).

A measured value whose unit cannot be converted to the criterion's unit is neither ignored nor
taken as failing: it could be anything. Each comparison is then true when it holds whatever
those values are, false when it holds for none of them, and unknown otherwise:

* a count of rows with a value condition lies between the rows known to satisfy it and those
  plus the rows that may (:func:`count_compare`);
* ``max`` is at least the largest usable value, ``min`` at most the smallest; ``mean``, and
  ``latest``/``first`` when an unconvertible value is dated on or after (before) the latest
  (first) usable one, could be anything (:func:`aggregate_compare`).

    >>> import polars as pl
    >>> df = pl.DataFrame({"lo": [3, 1, 0], "hi": [4, 4, 1]})
    >>> df.select(count_compare(pl.col("lo"), pl.col("hi"), ">=", 3).alias("r"))["r"].to_list()
    [True, None, False]
"""

from __future__ import annotations

import polars as pl

from matcher.errors import MatcherError


def compare(left: pl.Expr, op: str, right: float) -> pl.Expr:
    """``left op right`` with a Float64 literal (null stays null)."""
    value = pl.lit(right, dtype=pl.Float64)
    match op:
        case "<":
            return left < value
        case "<=":
            return left <= value
        case ">":
            return left > value
        case ">=":
            return left >= value
        case "==":
            return left == value
        case "!=":
            return left != value
    raise MatcherError(f"no translation for comparison {op!r}")


def _decide(holds_for_all: pl.Expr, holds_for_none: pl.Expr) -> pl.Expr:
    return pl.when(holds_for_all).then(True).when(holds_for_none).then(False).otherwise(None)


def count_compare(low: pl.Expr, high: pl.Expr, op: str, right: float) -> pl.Expr:
    """``count op right`` for a count known only to lie in ``[low, high]``."""
    t = pl.lit(right, dtype=pl.Float64)
    outside = (t < low) | (t > high)
    exact = (low == t) & (high == t)
    cases = {
        ">=": (low >= t, high < t),
        ">": (low > t, high <= t),
        "<=": (high <= t, low > t),
        "<": (high < t, low >= t),
        "==": (exact, outside),
        "!=": (outside, exact),
    }
    if op not in cases:
        raise MatcherError(f"no translation for comparison {op!r}")
    return _decide(*cases[op])


def aggregate_compare(
    function: str, value: pl.Expr, unknown: pl.Expr, op: str, right: float
) -> pl.Expr:
    """``function(values) op right`` where ``value`` is the aggregate of the usable values and
    ``unknown`` flags patients with a value that cannot be converted and could change it."""
    plain = compare(value, op, right)
    if function == "max":  # the true maximum is at least ``value``
        holds = {">": value > right, ">=": value >= right, "!=": value > right}
        fails = {"<": value >= right, "<=": value > right, "==": value > right}
    elif function == "min":  # at most ``value``
        holds = {"<": value < right, "<=": value <= right, "!=": value < right}
        fails = {">": value <= right, ">=": value < right, "==": value < right}
    else:  # mean, latest, first: anything
        holds, fails = {}, {}
    when_unknown = _decide(holds.get(op, pl.lit(False)), fails.get(op, pl.lit(False)))
    return pl.when(unknown.fill_null(False)).then(when_unknown).otherwise(plain)


__all__ = ["aggregate_compare", "compare", "count_compare"]
