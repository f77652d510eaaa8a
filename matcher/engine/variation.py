"""Issue 18, language reach: the variation of a value (:class:`~criteria_dsl.ir.ValueVariation`)
as a Polars expression over one row per patient.

It reads reductions of the shared scan plan (:mod:`matcher.engine.plan`), no new pass over the
observations: the latest, smallest and largest usable values of the set converted to the node's
unit (``("v", "latest"|"min"|"max", unit)``), whether some value of the set cannot be used
(``("vk", "mean", unit)``) and the number of dates with a usable value (``("vdays", unit)``).

>>> import polars as pl
>>> row = pl.DataFrame({"latest": [100.0], "low": [96.0], "high": [103.0]})
>>> row.select(spread(pl.col("latest"), pl.col("low"), pl.col("high"))).item()
4.0
"""

from __future__ import annotations

from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.engine.plan import resolve_events
from matcher.engine.unknowns import compare


def spread(latest: pl.Expr, low: pl.Expr, high: pl.Expr) -> pl.Expr:
    """The largest gap between a value and the latest one, in per cent of the latest one."""
    return pl.max_horizontal(high - latest, latest - low) / latest * 100.0


def predicate(node: ir.ValueVariation, ctx: Any) -> pl.Expr:
    """Known where at least two dates have a usable value, the latest is positive and no value
    of the set is unusable; then the comparison of the spread."""
    resolved = resolve_events(ctx.study, node.events, ctx.index, ctx.plan)
    key = ctx.plan.units.add_target(node.unit, resolved.codes)

    def column(need: tuple) -> pl.Expr:
        return pl.col(ctx.plan.add(resolved, need))

    latest = column(("v", "latest", key))
    low, high = column(("v", "min", key)), column(("v", "max", key))
    unusable = column(("vk", "mean", key)).fill_null(False)
    known = (column(("vdays", key)) >= 2) & (latest > 0) & ~unusable
    holds = compare(spread(latest, low, high), node.op, node.right.value)
    return pl.when(known.fill_null(False)).then(holds).otherwise(None)
