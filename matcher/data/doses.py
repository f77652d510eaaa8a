"""Issue 18, drugs: the row checks of the optional dose columns of ``prescriptions``.

A negative dose is an error; a dose without a unit, a unit without a dose, and a unit other
than the usual ones are warnings (such rows are unknown for every dose filter).

    >>> import polars as pl
    >>> rows = pl.DataFrame({"dose": [1.0, -2.0, 3.0], "daily_dose": [None, None, 6.0],
    ...     "dose_unit": ["mg", "mg", "tablets"]})
    >>> [(c.column, rows.select(c.expr.sum()).item()) for c in dose_checks(set(rows.columns))]
    [('dose', 1), ('daily_dose', 0), ('dose_unit', 0), ('dose_unit', 0), ('dose_unit', 1)]
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

USUAL_DOSE_UNITS = ("mg", "g", "ug", "[iU]", "mL", "mmol")
"""Dose units every dose filter understands (UCUM); others compare only with themselves."""


class DoseCheck(NamedTuple):
    column: str
    expr: pl.Expr
    phrase: str
    warning: bool = False


def dose_checks(usable: set[str]) -> list[DoseCheck]:
    """Row checks of the dose columns present and convertible (``usable``)."""
    out = []
    amounts = [c for c in ("dose", "daily_dose") if c in usable]
    for column in amounts:
        out.append(DoseCheck(column, pl.col(column) < 0, f"with a negative {column}"))
    if "dose_unit" not in usable:
        return out
    unit = pl.col("dose_unit")
    some = pl.any_horizontal([pl.col(c).is_not_null() for c in amounts]) if amounts else None
    if some is not None:
        phrase = "with a dose but no dose_unit (unknown for every dose filter)"
        out.append(DoseCheck("dose_unit", some & unit.is_null(), phrase, True))
        phrase = "with a dose_unit but no dose"
        out.append(DoseCheck("dose_unit", ~some & unit.is_not_null(), phrase, True))
    odd = unit.is_not_null() & ~unit.is_in(USUAL_DOSE_UNITS)
    usual = ", ".join(USUAL_DOSE_UNITS)
    phrase = f"with a dose_unit other than {usual} (compared only with the same unit)"
    out.append(DoseCheck("dose_unit", odd, phrase, True))
    return out
