"""Issue 18, treatment length: the days of a window covered by prescriptions
(:class:`~criteria_dsl.ir.Covers`), per patient, vectorised.

Each prescription covers ``[date, date + duration_days - 1]``, clipped to the window. The days
covered are counted without a loop: the clipped periods sorted by (patient, start), the
running maximum of the earlier periods' ends per patient (``cum_max`` shifted by one row), and
each period adds the days past that maximum (``end - max(start - 1, running end)``, at least
zero). ``low`` counts the rows surely in the set that have a duration; ``high`` every row that
may be in it (a dose filter it may satisfy), a row without a duration reaching the window's end
(or far beyond, without one): both from one sort (:func:`coverage_frame`).

    >>> rows = pl.LazyFrame({"k": [1, 1, 1, 2, 2], "date": [dt.date(2024, 1, d) for d in
    ...     (10, 12, 30, 5, 20)], "system": "atc", "code": "A10AE04",
    ...     "duration_days": [11, 4, 2, 0, None]})
    >>> q = Coverage((("atc", ("A10AE04",)),), None, dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    >>> coverage_frame(q, rows, "k", 0).sort("k").collect().rows()  # 10-20, 30-31; 20-31 maybe
    [(1, 13, 13), (2, 0, 12)]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.engine.doses import DoseKey, dose_compare, dose_unknown
from matcher.engine.plan import (
    CodeTuple,
    ResolvedBound,
    ResolvedEvents,
    codes_expr,
    resolve_events,
)
from matcher.engine.unknowns import compare

EPOCH = dt.date(1970, 1, 1)
FAR = 10_000_000
"""A day number past any date (days since 1970): the end of an open window."""


@dataclass(frozen=True)
class Coverage:
    """One coverage question: the set's codes and dose filter, and the window (dates
    inclusive; ``None``: unbounded on that side)."""

    codes: CodeTuple | None
    dose: DoseKey | None
    first: dt.date | None
    last: dt.date | None


def _day(bound: ResolvedBound | None, side: str) -> dt.date | None:
    if bound is None:
        return None
    assert bound.date is not None, "a coverage window has fixed dates (checked by the compiler)"
    if bound.inclusive:
        return bound.date
    return bound.date + dt.timedelta(days=1 if side == "start" else -1)


def window_days(resolved: ResolvedEvents) -> tuple[dt.date | None, dt.date | None]:
    """The first and last days of a window of fixed dates (inclusive; ``None``: unbounded)."""
    return _day(resolved.start, "start"), _day(resolved.end, "end")


def coverage_of(node: ir.Covers, ctx: Any) -> Coverage:
    resolved = resolve_events(ctx.study, node.events, ctx.index, ctx.plan)
    dose = resolved.value if isinstance(resolved.value, DoseKey) else None
    return Coverage(resolved.codes, dose, *window_days(resolved))


def columns(plan: Any, coverage: Coverage) -> tuple[str, str]:
    """The (low, high) covered-days columns of ``coverage``."""
    coverages: dict[Coverage, int] = plan.coverages
    n = coverages.setdefault(coverage, len(coverages))
    return f"__c{n}_low", f"__c{n}_high"


def predicate(node: ir.Covers, ctx: Any) -> pl.Expr:
    """True when the comparison holds for both ends, false when for neither."""
    low, high = (pl.col(c) for c in columns(ctx.plan, coverage_of(node, ctx)))
    at_low, at_high = compare(low, node.op, node.days), compare(high, node.op, node.days)
    return pl.when(at_low & at_high).then(True).when(~at_low & ~at_high).then(False)


def _gain(end: pl.Expr, key: str) -> pl.Expr:
    """The days a period adds past the earlier periods of its patient (rows sorted by
    (patient, start); an empty period has ``end < start`` and adds none)."""
    before = end.cum_max().shift(1).over(key)
    return (end - pl.max_horizontal(pl.col("_s") - 1, before)).clip(lower_bound=0)


def _number(day: dt.date) -> int:
    return (day - EPOCH).days


def coverage_frame(coverage: Coverage, source: pl.LazyFrame, key: str, n: int) -> pl.LazyFrame:
    """Per patient with a prescription of the set that may cover a day of the window: the
    covered days known (``low``) and possible (``high``), in ONE sort of those rows.

    The rows without a duration each cover at most ``[max(date, first), last]``: together
    ``[m, last]``, ``m`` the earliest of their starts. So ``high`` is the days of ``[m, last]``
    plus the days before ``m`` covered by the rows with a duration that are or may be in the
    set (their periods clipped to ``m - 1``); ``low`` the days covered by the rows surely in
    the set with a duration. Rows whose period ends before the window are left out first."""
    date, duration = pl.col("date"), pl.col("duration_days").cast(pl.Int64)
    day = date.cast(pl.Int64)
    keep = codes_expr(coverage.codes) if coverage.codes is not None else pl.lit(True)
    if coverage.last is not None:
        keep = keep & (date <= coverage.last)
    start = day
    if coverage.first is not None:
        first = pl.lit(_number(coverage.first), dtype=pl.Int64)
        keep = keep & (duration.is_null() | (day + duration - 1 >= first))
        start = pl.max_horizontal(day, first)
    last = pl.lit(FAR if coverage.last is None else _number(coverage.last), dtype=pl.Int64)
    sure: pl.Expr = pl.lit(True)
    maybe: pl.Expr = pl.lit(False)
    if coverage.dose is not None:
        sure, maybe = dose_compare(coverage.dose).fill_null(False), dose_unknown(coverage.dose)
    end = pl.min_horizontal(day + duration - 1, last)
    rows = (
        source.filter(keep)
        .with_columns(_sure=sure, _maybe=maybe.fill_null(False), _s=start, _d=duration, _e=end)
        .filter(pl.col("_sure") | pl.col("_maybe"))
        .select(key, "_sure", "_s", "_d", "_e")
        .sort([key, "_s"])
    )
    known = pl.col("_d").is_not_null()
    open_start = pl.when(~known).then(pl.col("_s")).min().over(key)
    rows = rows.with_columns(_m=open_start)
    empty = pl.col("_s") - 1
    low_end = pl.when(pl.col("_sure") & known).then(pl.col("_e")).otherwise(empty)
    before_m = pl.min_horizontal(pl.col("_e"), pl.col("_m") - 1)
    high_end = pl.when(known).then(before_m).otherwise(empty)
    open_days = (last - pl.col("_m").first() + 1).fill_null(0)
    return rows.group_by(key).agg(
        _gain(low_end, key).sum().cast(pl.Int64).alias(f"__c{n}_low"),
        (_gain(high_end, key).sum() + open_days).cast(pl.Int64).alias(f"__c{n}_high"),
    )


EventReader = Callable[[str, Mapping[str, Collection[str]] | None], pl.LazyFrame]


def coverage_frames(
    plan: Any, tables: dict[str, pl.LazyFrame], key: str, read: EventReader | None
) -> list[tuple[pl.LazyFrame, dict[str, object]]]:
    """The aggregate frames of every coverage question of the plan, with their fills (0)."""
    out: list[tuple[pl.LazyFrame, dict[str, object]]] = []
    for coverage, n in plan.coverages.items():
        wanted = None if coverage.codes is None else {s: set(c) for s, c in coverage.codes}
        source = tables["prescriptions"] if read is None else read("prescriptions", wanted)
        frame = coverage_frame(coverage, source, key, n)
        out.append((frame, {f"__c{n}_low": 0, f"__c{n}_high": 0}))
    return out
