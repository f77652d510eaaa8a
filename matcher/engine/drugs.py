"""Issue 18, drugs: persistence (:class:`~criteria_dsl.ir.Spans`) and new treatments
(:class:`~criteria_dsl.ir.FirstEvent`) as Polars expressions over one row per patient.

Both read reductions of the shared scan plan (:mod:`matcher.engine.plan`): the first and last
dates of a set (``min``/``max``), and, for sets with rows of unknown membership, the same over
the rows that *may* be in the set (``minq``/``maxq``). No new pass over the event tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.engine.dates import polars_offset


def far_apart(first: pl.Expr, last: pl.Expr, duration: ir.Duration) -> pl.Expr:
    """``last >= first + duration`` (false when there is no date)."""
    reach = first.dt.offset_by(polars_offset(duration, "after")) if duration.amount else first
    return (last >= reach).fill_null(False)


def spans(node: ir.Spans, ctx: Any) -> pl.Expr:
    """True when the set's dates span ``node.duration``; unknown where rows of unknown
    membership could make them span it."""
    sure = far_apart(
        pl.col(ctx.events(node.events, ("min",))),
        pl.col(ctx.events(node.events, ("max",))),
        node.duration,
    )
    if not ctx.uncertain(node.events):
        return sure
    possible = far_apart(
        pl.col(ctx.events(node.events, ("minq",))),
        pl.col(ctx.events(node.events, ("maxq",))),
        node.duration,
    )
    return pl.when(sure).then(True).when(~possible).then(False).otherwise(None)


def before_window(events: ir.EventSet) -> ir.EventSet | None:
    """The events of the same set dated before the window's start (``None``: no start)."""
    start = events.window.start
    if start is None:
        return None
    end = replace(start, inclusive=not start.inclusive)
    return replace(events, window=ir.Window(None, end), span=None)


def first_event(node: ir.FirstEvent, exists: Callable[[ir.EventSet], pl.Expr]) -> pl.Expr:
    """Some event in the window and none before its start (Kleene ``and``/``not``)."""
    found = exists(node.events)
    earlier = before_window(node.events)
    return found if earlier is None else found & ~exists(earlier)
