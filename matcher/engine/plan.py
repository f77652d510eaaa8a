"""The scan plan: every event set of one or more studies, resolved and grouped by table.

An :class:`~criteria_dsl.ir.EventSet` means different rows for different index dates and code
set definitions, so the plan works on :class:`ResolvedEvents`: the domain, the concrete codes,
the window bounds with constant dates already computed, the value condition and the encounter
kinds. Equal resolved sets (from one study or several) share one mask column.

Each event table is read once per *level*: level 0 holds the sets whose windows have only
constant bounds; a set whose window is measured from an :class:`~criteria_dsl.ir.EventDate`
sits one level above the set that anchors it. Per table and level the plan builds the row
masks of its sets and ONE ``group_by(patient_id)`` computing every reduction the predicates
need (any, count, distinct days, first/latest date, value aggregates).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from criteria_dsl import ir
from matcher.engine.dates import polars_offset, shift_date
from matcher.engine.units import ConversionPlan
from matcher.errors import MatcherError

CodeTuple = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class ResolvedBound:
    """One window end: a constant date, or an anchor set's first/latest date moved by offset."""

    inclusive: bool
    date: dt.date | None = None
    anchor: tuple[ResolvedEvents, str] | None = None
    offset: str | None = None


@dataclass(frozen=True)
class ResolvedEvents:
    domain: ir.Domain
    codes: CodeTuple | None
    start: ResolvedBound | None
    end: ResolvedBound | None
    value: tuple[str, float, str | None] | None
    kinds: tuple[str, ...]

    def anchors(self) -> list[tuple[ResolvedEvents, str]]:
        return [b.anchor for b in (self.start, self.end) if b is not None and b.anchor]


@dataclass
class Plan:
    """Resolved sets with the reductions each needs, their levels and their column names."""

    sets: dict[ResolvedEvents, int] = field(default_factory=dict)
    needs: dict[ResolvedEvents, set[tuple]] = field(default_factory=dict)
    units: ConversionPlan = field(default_factory=ConversionPlan)

    def add(self, events: ResolvedEvents, need: tuple) -> str:
        """Register that ``need`` is wanted of ``events``; returns the reduction's column."""
        if events not in self.sets:
            self.sets[events] = len(self.sets)
            self.needs[events] = set()
        self.needs[events].add(need)
        return self.column(events, need)

    def column(self, events: ResolvedEvents, need: tuple) -> str:
        return f"__e{self.sets[events]}_" + "_".join(str(p) for p in need)

    def mask(self, events: ResolvedEvents) -> str:
        return f"__m{self.sets[events]}"

    def level(self, events: ResolvedEvents) -> int:
        anchors = events.anchors()
        return 0 if not anchors else 1 + max(self.level(a) for a, _ in anchors)


def resolve_events(
    study: ir.Study, events: ir.EventSet, index: dt.date, plan: Plan
) -> ResolvedEvents:
    """Resolve ``events`` of ``study`` at ``index``; anchors are registered in ``plan``."""
    codes: CodeTuple | None = None
    if events.codes is not None:
        if events.domain is ir.Domain.ENCOUNTER:
            raise MatcherError("encounters carry no codes: an encounter set cannot use a code set")
        by_system = study.codeset(events.codes.name).resolved.by_system()
        codes = tuple(sorted(by_system.items()))
    value = None
    if events.value is not None:
        value = (events.value.op, events.value.right.value, events.value.right.unit)
        plan.units.add_target(events.value.right.unit, codes)
    window = events.window
    return ResolvedEvents(
        domain=events.domain,
        codes=codes,
        start=_bound(study, window.start, index, plan),
        end=_bound(study, window.end, index, plan),
        value=value,
        kinds=events.kinds,
    )


def _bound(
    study: ir.Study, bound: ir.Bound | None, index: dt.date, plan: Plan
) -> ResolvedBound | None:
    if bound is None:
        return None
    anchor = bound.anchor
    if isinstance(anchor, ir.IndexDate | ir.CalendarDate):
        base = index if isinstance(anchor, ir.IndexDate) else anchor.value
        day = shift_date(base, bound.offset, bound.direction)
        return ResolvedBound(bound.inclusive, date=day)
    anchor_events = resolve_events(study, anchor.events, index, plan)
    need = ("min",) if anchor.which == "first" else ("max",)
    plan.add(anchor_events, need)
    offset = polars_offset(bound.offset, bound.direction) if bound.offset else None
    return ResolvedBound(bound.inclusive, anchor=(anchor_events, anchor.which), offset=offset)


# --------------------------------------------------------------------------------------------
# Building the per-table passes
# --------------------------------------------------------------------------------------------


def codes_expr(codes: CodeTuple) -> pl.Expr:
    """``(system == s) & code.is_in(codes)`` OR-ed over the systems (false for no codes)."""
    expr = pl.lit(False)
    for system, values in codes:
        expr = expr | ((pl.col("system") == system) & pl.col("code").is_in(list(values)))
    return expr


def _bound_expr(plan: Plan, bound: ResolvedBound, side: str) -> pl.Expr:
    if bound.date is not None:
        limit: pl.Expr = pl.lit(bound.date, dtype=pl.Date)
    else:
        assert bound.anchor is not None
        events, which = bound.anchor
        limit = pl.col(plan.column(events, ("min",) if which == "first" else ("max",)))
        if bound.offset:
            limit = limit.dt.offset_by(bound.offset)
    date = pl.col("date")
    if side == "start":
        return date >= limit if bound.inclusive else date > limit
    return date <= limit if bound.inclusive else date < limit


def mask_expr(plan: Plan, events: ResolvedEvents) -> pl.Expr:
    """The row filter of ``events`` (null comparisons, e.g. an unknown anchor, count as false)."""
    parts: list[pl.Expr] = []
    if events.codes is not None:
        parts.append(codes_expr(events.codes))
    if events.kinds:
        parts.append(pl.col("kind").is_in(list(events.kinds)))
    if events.start is not None:
        parts.append(_bound_expr(plan, events.start, "start"))
    if events.end is not None:
        parts.append(_bound_expr(plan, events.end, "end"))
    if events.value is not None:
        op, number, unit = events.value
        parts.append(_compare(plan.units.value_expr(unit), op, number))
    expr = pl.lit(True)
    for part in parts:
        expr = expr & part
    return expr.fill_null(False)


def _compare(left: pl.Expr, op: str, number: float) -> pl.Expr:
    right = pl.lit(number, dtype=pl.Float64)
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
        "==": left == right,
        "!=": left != right,
    }[op]


def wanted_codes(sets: list[ResolvedEvents]) -> dict[str, set[str]] | None:
    """Union of the sets' codes by system; None when one set wants every row."""
    if not all(s.codes is not None for s in sets):
        return None
    merged: dict[str, set[str]] = {}
    for s in sets:
        for system, values in s.codes or ():
            merged.setdefault(system, set()).update(values)
    return merged


def prefilter(sets: list[ResolvedEvents]) -> pl.Expr | None:
    """Union of the sets' codes and hull of their constant date bounds (predicate pushdown)."""
    parts: list[pl.Expr] = []
    merged = wanted_codes(sets)
    if merged is not None:
        parts.append(codes_expr(tuple((k, tuple(sorted(v))) for k, v in sorted(merged.items()))))
    starts = [s.start.date if s.start is not None else None for s in sets]
    if all(d is not None for d in starts):
        parts.append(pl.col("date") >= min(d for d in starts if d is not None))
    ends = [s.end.date if s.end is not None else None for s in sets]
    if all(d is not None for d in ends):
        parts.append(pl.col("date") <= max(d for d in ends if d is not None))
    if not parts:
        return None
    expr = parts[0]
    for part in parts[1:]:
        expr = expr & part
    return expr


def reduction(plan: Plan, events: ResolvedEvents, need: tuple) -> pl.Expr:
    """The ``group_by`` aggregation computing ``need`` over the rows of ``events``."""
    mask = pl.col(plan.mask(events))
    name = plan.column(events, need)
    kind = need[0]
    if kind == "any":
        return mask.any().alias(name)
    if kind == "count":
        return mask.sum().cast(pl.Int64).alias(name)
    if kind == "ndays":
        return pl.col("date").filter(mask).n_unique().cast(pl.Int64).alias(name)
    if kind in ("min", "max"):
        dates = pl.col("date").filter(mask)
        return (dates.min() if kind == "min" else dates.max()).alias(name)
    _, function, unit_key = need
    values = plan.units.value_expr(plan.units.unit_of(unit_key))
    usable = mask & values.is_not_null()
    used = values.filter(usable)
    if function == "min":
        return used.min().alias(name)
    if function == "max":
        return used.max().alias(name)
    if function == "mean":
        return used.mean().alias(name)
    dates = pl.col("date").filter(usable)
    on_day = dates.max() if function == "latest" else dates.min()
    return values.filter(usable & (pl.col("date") == on_day)).max().alias(name)


FILLS = {"any": False, "count": 0, "ndays": 0}


def table_pass(
    plan: Plan,
    frame: pl.LazyFrame,
    sets: list[ResolvedEvents],
    anchor_frames: dict[ResolvedEvents, pl.LazyFrame],
    key: str = "patient_id",
) -> pl.LazyFrame:
    """One read of an event table for ``sets`` (all of one table and level): one group_by.

    ``key`` is the column linking events to patients (``patient_key`` in a snapshot)."""
    condition = prefilter(sets)
    rows = frame.filter(condition) if condition is not None else frame
    if any(s.domain is ir.Domain.OBSERVATION for s in sets):
        rows = plan.units.attach(rows)
    joined: set[str] = set()
    for s in sets:
        for anchor, which in s.anchors():
            col = plan.column(anchor, ("min",) if which == "first" else ("max",))
            if col in joined:
                continue
            joined.add(col)
            source = anchor_frames[anchor].select(key, col)
            rows = rows.join(source, on=key, how="left")
    rows = rows.with_columns(mask_expr(plan, s).alias(plan.mask(s)) for s in sets)
    aggs = [reduction(plan, s, need) for s in sets for need in sorted(plan.needs[s], key=str)]
    return rows.group_by(key).agg(aggs)
