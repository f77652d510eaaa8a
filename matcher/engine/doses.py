"""Issue 18, drugs: the dose filter of prescriptions as row expressions.

``with daily dose >= 40 mg`` keeps the prescription rows whose ``daily_dose`` (``dose`` for
``with dose``), in the row's ``dose_unit``, converted to the filter's unit, satisfies the
comparison. Mass units convert (``ug``, ``mg``, ``g``); any other unit compares only with
itself. ``with daily dose >= 1 DDD`` divides the daily dose, converted to the unit of the WHO
defined daily dose of the row's ATC code (frozen in the IR at compile time), by that DDD.

A row whose dose cannot be known in the filter's unit (no dose, no unit, a unit that does not
convert, a code without a DDD) *may* be in the set: :func:`dose_unknown` flags it, and the
plan treats it as it treats observation values in units that do not convert (unknown when it
could change the answer).

    >>> import polars as pl
    >>> key = DoseKey("daily_dose", ">=", 40.0, "mg", ())
    >>> rows = pl.DataFrame({"system": ["atc"] * 4, "code": ["C10AA05"] * 4,
    ...     "daily_dose": [0.04, 20.0, None, 40.0], "dose_unit": ["g", "mg", "mg", "tablet"]})
    >>> rows.select(dose_value(key).alias("mg"))["mg"].to_list()
    [40.0, 20.0, None, None]
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from criteria_dsl import ir
from matcher.data.convert import finite_or_null
from terminology.ddd import MASS_MG


@dataclass(frozen=True)
class DoseKey:
    """A dose filter as the scan plan keys it (hashable, no spans)."""

    column: str
    op: str
    number: float
    unit: str
    ddd: tuple[tuple[str, float, str], ...]

    @staticmethod
    def of(condition: ir.DoseCondition) -> DoseKey:
        column = "daily_dose" if condition.daily else "dose"
        right = condition.right
        return DoseKey(column, condition.op, right.value, right.unit or "", condition.ddd)


def _mass_factor(unit: pl.Expr) -> pl.Expr:
    return unit.replace_strict(
        list(MASS_MG), list(MASS_MG.values()), default=None, return_dtype=pl.Float64
    )


def converted(amount: pl.Expr, unit: pl.Expr, target: pl.Expr) -> pl.Expr:
    """``amount`` from ``unit`` into ``target``: the same unit as is, mass units converted,
    null otherwise (``amount * factor(unit) / factor(target)``)."""
    source_f, target_f = _mass_factor(unit), _mass_factor(target)
    return (
        pl.when(unit == target)
        .then(amount)
        .when(source_f.is_not_null() & target_f.is_not_null())
        .then(amount * source_f / target_f)
    )


def dose_value(key: DoseKey) -> pl.Expr:
    """The row's dose in the filter's unit (in DDDs for ``DDD``); null when unknown."""
    amount = finite_or_null(pl.col(key.column).cast(pl.Float64))
    unit = pl.col("dose_unit").cast(pl.String)
    if key.unit != ir.DDD_UNIT:
        return converted(amount, unit, pl.lit(key.unit, dtype=pl.String))
    codes = [c for c, _, _ in key.ddd]
    code = pl.col("code").cast(pl.String)
    ddd_amount = code.replace_strict(
        codes, [a for _, a, _ in key.ddd], default=None, return_dtype=pl.Float64
    )
    ddd_unit = code.replace_strict(
        codes, [u for _, _, u in key.ddd], default=None, return_dtype=pl.String
    )
    in_ddd = converted(amount, unit, ddd_unit) / ddd_amount
    return pl.when(pl.col("system").cast(pl.String) == "atc").then(in_ddd)


def dose_compare(key: DoseKey) -> pl.Expr:
    """Rows whose known dose satisfies the filter (null dose: null, taken as false)."""
    value = dose_value(key)
    right = pl.lit(key.number, dtype=pl.Float64)
    return {
        "<": value < right,
        "<=": value <= right,
        ">": value > right,
        ">=": value >= right,
        "==": value == right,
        "!=": value != right,
    }[key.op]


def dose_unknown(key: DoseKey) -> pl.Expr:
    """Rows whose dose cannot be known in the filter's unit (they may satisfy it)."""
    return dose_value(key).is_null()
