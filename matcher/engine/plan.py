"""The scan plan: every event set of one or more studies, resolved and grouped by table.

An :class:`~criteria_dsl.ir.EventSet` means different rows for different index dates and code
set definitions, so the plan works on :class:`ResolvedEvents`: the domain, the concrete codes,
the window bounds with constant dates already computed, the value condition and the encounter
kinds. Equal resolved sets (from one study or several) share one mask column.

Each event table is read once per *level*: level 0 holds the sets whose windows have only
constant bounds; a set whose window is measured from an :class:`~criteria_dsl.ir.EventDate`
sits one level above the set that anchors it. Per table and level the plan builds the row
masks of its sets and ONE ``group_by(patient_id)`` computing every reduction the predicates
need (any, count, distinct days, first/latest date, value aggregates, and ``latest``/``first``
values: :func:`on_day_value`; a pass with many of those computes them in a second, vectorised
stage over the same rows, :func:`on_day_stages`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

import polars as pl

from criteria_dsl import ir
from matcher.engine import classes, latest, same_day
from matcher.engine.dates import polars_offset, shift_date
from matcher.engine.doses import DoseKey, dose_compare, dose_unknown
from matcher.engine.units import VALUE_FINITE, ConversionPlan
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
    value: tuple[str, float, str | None] | DoseKey | None
    kinds: tuple[str, ...]
    same_day: CodeTuple | None = None
    """Issue 18 (cause of an event): only rows on a day with a diagnosis of these codes."""

    def anchors(self) -> list[tuple[ResolvedEvents, str]]:
        return [b.anchor for b in (self.start, self.end) if b is not None and b.anchor]


@dataclass
class Plan:
    """Resolved sets with the reductions each needs, their levels and their column names."""

    sets: dict[ResolvedEvents, int] = field(default_factory=dict)
    needs: dict[ResolvedEvents, set[tuple]] = field(default_factory=dict)
    units: ConversionPlan = field(default_factory=ConversionPlan)
    row_counts: dict[tuple, str] = field(default_factory=dict)
    """Per row count computed, ``(table, codes, first date, last date)`` (a date None: no
    bound), its column (for the "code set matches no row" warnings)."""
    date_counts: dict[dt.date | None, dict[tuple[str, CodeTuple], str]] = field(
        default_factory=dict
    )
    """Per index date, per (table, codes) its studies read: the row-count column (issue 16:
    studies at other index dates read other rows)."""
    index: dt.date | None = None
    """The index date of the study whose predicates are being compiled (see :attr:`dates`)."""
    dates: dict[ResolvedEvents, set[dt.date | None]] = field(default_factory=dict)
    """Per set, the index dates of the studies reading it."""
    status: dict[tuple, str] = field(default_factory=dict)
    """Issue 18: the smoking/pregnancy/breast-feeding columns wanted (see
    :mod:`matcher.engine.status`), by need."""
    histories: dict = field(default_factory=dict)
    """Issue 18: the dose histories (stable dose, no change) and their numbers
    (:mod:`matcher.engine.changes`)."""
    coverages: dict = field(default_factory=dict)
    """Issue 18: the treatment-length questions and their numbers (:mod:`.coverage`)."""
    answers: dict = field(default_factory=dict)
    """Issue 18: the coded-answer questions and their numbers (:mod:`.answers`)."""
    same_days: dict[CodeTuple, str] = field(default_factory=dict)
    """Issue 18 (cause of an event): per diagnosis code set of an ``on the same day`` option,
    the row column flagging the days with such a diagnosis (:mod:`matcher.engine.same_day`)."""

    def add(self, events: ResolvedEvents, need: tuple) -> str:
        """Register that ``need`` is wanted of ``events``; returns the reduction's column."""
        if events not in self.sets:
            self.sets[events] = len(self.sets)
            self.needs[events] = set()
        self.needs[events].add(need)
        self.dates.setdefault(events, set()).add(self.index)
        return self.column(events, need)

    def column(self, events: ResolvedEvents, need: tuple) -> str:
        return f"__e{self.sets[events]}_" + "_".join(str(p) for p in need)

    def mask(self, events: ResolvedEvents) -> str:
        return f"__m{self.sets[events]}"

    def maybe(self, events: ResolvedEvents) -> str:
        """The column flagging rows that may be in ``events`` (see :func:`maybe_expr`)."""
        return f"__q{self.sets[events]}"

    def count_rows(self, sets: list[ResolvedEvents], *, read_only: bool = False) -> list[pl.Expr]:
        """Aggregations counting, per patient, the rows of each code set of ``sets``.

        Per index date and (table, codes), the first pass reading them counts the rows with
        those codes within the hull of the windows on them, in this pass, of the studies at
        that date (issue 16: not of every study's, which read other rows at another index
        date; and not of the other code sets of a raw table's pass, so that raw files and
        snapshots count the same rows). Equal hulls share the column (a Boolean sum in the
        pass's own ``group_by``); the date bounds are only written where narrower than the
        pass's. ``read_only``: the pass's rows hold the codes of ``sets`` only (read from a
        code index, all sets of one code set): a count needs no code test, and without a date
        bound of its own it is the group's length."""
        out = []
        pass_hull = date_hull(sets)
        for day in sorted({d for s in sets for d in self.dates.get(s, {None})}, key=str):
            counted = self.date_counts.setdefault(day, {})
            mine = [s for s in sets if s.codes is not None and day in self.dates.get(s, {None})]
            for codes in dict.fromkeys(s.codes for s in mine):
                assert codes is not None
                table = mine[0].domain.value
                if (table, codes) in counted:
                    continue
                first, last = date_hull([s for s in mine if s.codes == codes])
                key = (table, codes, first, last)
                if key not in self.row_counts:
                    self.row_counts[key] = name = f"__n{len(self.row_counts)}"
                    only_these = read_only and len({s.codes for s in sets}) == 1
                    rows = pl.lit(True) if only_these else codes_expr(codes)
                    narrower = False
                    if first is not None and first != pass_hull[0]:
                        rows, narrower = rows & (pl.col("date") >= first), True
                    if last is not None and last != pass_hull[1]:
                        rows, narrower = rows & (pl.col("date") <= last), True
                    if only_these and not narrower:
                        out.append(pl.len().cast(pl.Int64).alias(name))
                    else:
                        out.append(rows.sum().cast(pl.Int64).alias(name))
                counted[(table, codes)] = self.row_counts[key]
        return out

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
    if isinstance(events.value, ir.DoseCondition):  # issue 18: drugs
        value = DoseKey.of(events.value)
    elif events.value is not None:
        value = (events.value.op, events.value.right.value, events.value.right.unit)
        plan.units.add_target(events.value.right.unit, codes)
    window = events.window
    same_day = None
    if events.same_day is not None:  # issue 18: cause of an event
        same_day = tuple(sorted(study.codeset(events.same_day.name).resolved.by_system().items()))
        plan.same_days.setdefault(same_day, f"__sd{len(plan.same_days)}")
    return ResolvedEvents(
        domain=events.domain,
        codes=codes,
        start=_bound(study, window.start, index, plan),
        end=_bound(study, window.end, index, plan),
        value=value,
        kinds=events.kinds,
        same_day=same_day,
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


def _base_parts(plan: Plan, events: ResolvedEvents) -> list[pl.Expr]:
    parts: list[pl.Expr] = []
    if events.codes is not None:
        parts.append(codes_expr(events.codes))
    if events.kinds:
        parts.append(pl.col("kind").is_in(list(events.kinds)))
    if events.start is not None:
        parts.append(_bound_expr(plan, events.start, "start"))
    if events.end is not None:
        parts.append(_bound_expr(plan, events.end, "end"))
    if events.same_day is not None:  # issue 18: cause of an event
        parts.append(pl.col(plan.same_days[events.same_day]))
    return parts


def _all(parts: list[pl.Expr]) -> pl.Expr:
    expr = pl.lit(True)
    for part in parts:
        expr = expr & part
    return expr.fill_null(False)


def mask_expr(plan: Plan, events: ResolvedEvents) -> pl.Expr:
    """The row filter of ``events`` (null comparisons, e.g. an unknown anchor, count as false).

    With a value condition, a row is in the set when its converted value satisfies it."""
    parts = _base_parts(plan, events)
    if isinstance(events.value, DoseKey):  # issue 18: drugs
        parts.append(dose_compare(events.value))
    elif events.value is not None:
        op, number, unit = events.value
        parts.append(_compare(plan.units.value_expr(unit), op, number))
    return _all(parts)


def maybe_expr(plan: Plan, events: ResolvedEvents) -> pl.Expr:
    """Rows that may be in ``events``: every other condition holds, the row has a value, but
    its unit does not convert to the value condition's (whether it satisfies it is unknown).
    Issue 18: an allergy of unrecorded kind may be of the kind asked (:func:`unknown_kind`)."""
    if unknown_kind(events):
        return unknown_kind_expr(plan, events)
    assert events.value is not None
    if isinstance(events.value, DoseKey):  # issue 18: drugs
        return _all([*_base_parts(plan, events), dose_unknown(events.value)])
    unit = events.value[2]
    unconvertible = pl.col(VALUE_FINITE).is_not_null() & plan.units.value_expr(unit).is_null()
    return _all([*_base_parts(plan, events), unconvertible])


def uncertain(events: ResolvedEvents) -> bool:
    """Whether ``events`` can hold rows of unknown membership (it has a value condition, or
    it filters allergies by kind: see :func:`unknown_kind`)."""
    return events.value is not None or unknown_kind(events)


# ---- issue 18: records ----


def unknown_kind(events: ResolvedEvents) -> bool:
    """Whether ``events`` filters allergies by kind, so that a record whose kind was not
    recorded (null) may or may not belong to it."""
    return events.domain is ir.Domain.ALLERGY and bool(events.kinds)


def unknown_kind_expr(plan: Plan, events: ResolvedEvents) -> pl.Expr:
    """Allergy rows of the set's codes and window whose kind is null."""
    parts = _base_parts(plan, dataclasses.replace(events, kinds=()))
    return _all([*parts, pl.col("kind").is_null()])


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


def prefilter(sets: list[ResolvedEvents], *, codes: bool = True) -> pl.Expr | None:
    """Union of the sets' codes and hull of their constant date bounds (predicate pushdown).

    ``codes=False`` leaves the codes out (the rows were read by ``Dataset.events`` with the
    union of the codes already)."""
    parts: list[pl.Expr] = []
    merged = wanted_codes(sets) if codes else None
    if merged is not None:
        parts.append(codes_expr(tuple((k, tuple(sorted(v))) for k, v in sorted(merged.items()))))
    first, last = date_hull(sets)
    if first is not None:
        parts.append(pl.col("date") >= first)
    if last is not None:
        parts.append(pl.col("date") <= last)
    if not parts:
        return None
    expr = parts[0]
    for part in parts[1:]:
        expr = expr & part
    return expr


def date_hull(sets: list[ResolvedEvents]) -> tuple[dt.date | None, dt.date | None]:
    """The first and last dates any of ``sets`` can read (None: a set has no constant bound
    on that side, so every date can be read).

    >>> from criteria_dsl import ir
    >>> def ev(start, end):
    ...     return ResolvedEvents(ir.Domain.DIAGNOSIS, None, ResolvedBound(True, date=start),
    ...                           ResolvedBound(True, date=end), None, ())
    >>> date_hull([ev(dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
    ...            ev(dt.date(2019, 1, 1), dt.date(2020, 6, 1))])
    (datetime.date(2019, 1, 1), datetime.date(2021, 1, 1))
    """
    starts = [s.start.date if s.start is not None else None for s in sets]
    ends = [s.end.date if s.end is not None else None for s in sets]
    first = min(starts) if starts and all(d is not None for d in starts) else None  # type: ignore[type-var]
    last = max(ends) if ends and all(d is not None for d in ends) else None  # type: ignore[type-var]
    return first, last


def only(mask: pl.Expr, column: pl.Expr) -> pl.Expr:
    """``column`` where ``mask`` holds, null elsewhere: for min/max in a ``group_by``.

    Same result as ``column.filter(mask).min()`` (min/max skip nulls), but an element-wise
    expression followed by a plain aggregation, which Polars runs several times faster than
    a filter inside the aggregation when there are many of them.
    """
    return pl.when(mask).then(column)


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
    if kind == "ndrugs":  # issue 18: language reach (distinct drugs)
        return drug_key().filter(mask).n_unique().cast(pl.Int64).alias(name)
    if classes.is_need(kind):  # langdata: distinct ATC classes (``q``: rows that may be too)
        maybe = pl.col(plan.maybe(events)) if uncertain(events) else pl.lit(False)
        return classes.reduction(kind, mask, maybe).alias(name)
    if kind in ("min", "max"):
        dates = only(mask, pl.col("date"))
        return (dates.min() if kind == "min" else dates.max()).alias(name)
    if kind in UNCERTAIN_NEEDS:
        return _uncertain_reduction(plan, events, need).alias(name)
    if kind == "vdays":  # issue 18, language reach: dates with a usable value (variation)
        values = plan.units.value_expr(plan.units.unit_of(need[1]))
        usable_dates = pl.col("date").filter(mask & values.is_not_null())
        return usable_dates.n_unique().cast(pl.Int64).alias(name)
    _, function, unit_key = need
    values = plan.units.value_expr(plan.units.unit_of(unit_key))
    usable = mask & values.is_not_null()
    if function == "min":
        return only(usable, values).min().alias(name)
    if function == "max":
        return only(usable, values).max().alias(name)
    if function == "mean":  # a filter: the same summation as over the kept values alone
        return values.filter(usable).mean().alias(name)
    if function in ON_DAY:
        return on_day_value(plan, events, need).alias(name)
    raise MatcherError(f"no reduction for value function {function!r}")


UNCERTAIN_NEEDS = ("anyq", "countq", "ndaysq", "vk", "vday")
"""Reductions for values that cannot be converted (see ``docs/engine.md``, *Unknown values*):
``anyq`` a row may be in the set; ``countq`` / ``ndaysq`` rows (distinct days) that are or may
be in it; ``("vk", f, unit)`` a row whose value counts for aggregate ``f`` but cannot be
converted (for latest/first: the latest/first date of such a row); ``("vday", f, unit)`` the
latest/first date of the usable rows."""
UNCERTAIN_NEEDS += ("minq", "maxq")  # issue 18: first/last date of the rows that are or may be
UNCERTAIN_NEEDS += ("ndrugsq",)  # issue 18: distinct drugs of the rows that are or may be


def drug_key() -> pl.Expr:
    """One value per drug of a prescription row: its system and code (an ATC code of level 5
    is a substance; a code of another system is a drug of its own).

    >>> rows = pl.DataFrame({"system": ["atc", "atc", "cip13"], "code": ["C09AA02"] * 3})
    >>> rows.select(drug_key().n_unique()).item()
    2
    """
    return pl.concat_str(
        pl.col("system").cast(pl.String), pl.col("code").cast(pl.String), separator=" "
    )


def _uncertain_reduction(plan: Plan, events: ResolvedEvents, need: tuple) -> pl.Expr:
    mask = pl.col(plan.mask(events))
    maybe = pl.col(plan.maybe(events)) if uncertain(events) else pl.lit(False)
    kind = need[0]
    if kind == "anyq":
        return maybe.any()
    if kind == "countq":
        return (mask | maybe).sum().cast(pl.Int64)
    if kind == "ndaysq":
        return pl.col("date").filter(mask | maybe).n_unique().cast(pl.Int64)
    if kind == "ndrugsq":  # issue 18: language reach (distinct drugs)
        return drug_key().filter(mask | maybe).n_unique().cast(pl.Int64)
    if kind in ("minq", "maxq"):  # issue 18: drugs (persistence)
        dates = only(mask | maybe, pl.col("date"))
        return dates.min() if kind == "minq" else dates.max()
    _, function, unit_key = need
    values = plan.units.value_expr(plan.units.unit_of(unit_key))
    if kind == "vday":
        dates = only(mask & values.is_not_null(), pl.col("date"))
        return dates.max() if function == "latest" else dates.min()
    unknown = (maybe | (mask & values.is_null())) & pl.col(VALUE_FINITE).is_not_null()
    if function == "latest":
        return only(unknown, pl.col("date")).max()
    if function == "first":
        return only(unknown, pl.col("date")).min()
    return unknown.any()


ON_DAY = ("latest", "first")
"""Value functions taking the value on the latest/first usable date (ties: largest value)."""


def _on_day(need: tuple) -> bool:
    return need[0] == "v" and need[1] in ON_DAY


def _usable(plan: Plan, events: ResolvedEvents, need: tuple) -> tuple[pl.Expr, pl.Expr]:
    """The converted value of ``need`` and the mask of rows where it is usable."""
    values = plan.units.value_expr(plan.units.unit_of(need[2]))
    return values, pl.col(plan.mask(events)) & values.is_not_null()


def on_day_value(plan: Plan, events: ResolvedEvents, need: tuple) -> pl.Expr:
    """The ``latest``/``first`` value of ``need`` as ONE aggregation of the pass's ``group_by``.

    The value on the latest (first) usable date, ties broken by the largest value: the
    group's values sorted by (day, value) with every unusable row as null in both keys
    (nulls sort first), and the last one taken (Polars runs it as a ``max_by`` on the
    encoded pair). For ``first`` the day key is negated, so the last is the earliest day.
    Used when a pass has at most :data:`ONE_STAGE_UP_TO` such values; for more, the two
    stages of :func:`on_day_stages` cost less (their second stage reads only the rows on
    the days found, where this reads every row once per value).
    """
    value, usable = _usable(plan, events, need)
    day = pl.col("date").cast(pl.Int32)
    key = only(usable, day if need[1] == "latest" else -day)
    return only(usable, value).sort_by([key, only(usable, value)]).last()


ONE_STAGE_UP_TO = 2
"""Passes with at most this many ``latest``/``first`` values compute them in their one
``group_by`` (:func:`on_day_value`); others in two stages (:func:`on_day_stages`). Measured at
1M patients: one value costs 0.034 s in one stage against 0.065 s in two; with sixteen
values over the same rows (fifty studies), 1.36 s against about 0.4 s."""


def on_day_stages(
    plan: Plan, wanted: list[tuple[ResolvedEvents, tuple]]
) -> tuple[list[pl.Expr], list[str], list[pl.Expr]]:
    """``latest``/``first`` values, vectorised in two stages over the same rows.

    A nested aggregation (``value.filter(date == date.filter(usable).max())`` inside a
    ``group_by``) is evaluated group by group. Instead the first ``group_by`` computes each
    need's latest (first) usable date (a plain filtered max/min); those dates are joined back
    to the rows and a second ``group_by`` takes the largest usable value on them. The date is
    the set's ``vday`` reduction when the plan computes it already (a compared latest/first
    value always does), else a column ``__day<i>`` of its own.
    Returns the day aggregations still to compute (stage 1), the day columns in ``wanted``'s
    order, and the value aggregations (stage 2).
    """
    days: list[pl.Expr] = []
    names: list[str] = []
    values: list[pl.Expr] = []
    for i, (events, need) in enumerate(wanted):
        value, usable = _usable(plan, events, need)
        vday = ("vday", need[1], need[2])
        if vday in plan.needs[events]:  # the same filtered max/min: computed once
            day = plan.column(events, vday)
        else:
            dates = only(usable, pl.col("date"))
            day = f"__day{i}"
            days.append((dates.max() if need[1] == "latest" else dates.min()).alias(day))
        names.append(day)
        on_day = usable & (pl.col("date") == pl.col(day))
        values.append(only(on_day, value).max().alias(plan.column(events, need)))
    return days, names, values


FILLS = {"any": False, "count": 0, "ndays": 0, "anyq": False, "countq": 0, "ndaysq": 0}
FILLS |= {"ndrugs": 0, "ndrugsq": 0, "vdays": 0}  # issue 18: language reach
FILLS |= dict.fromkeys(classes.NEEDS, 0)  # langdata: distinct classes


def table_pass(
    plan: Plan,
    frame: pl.LazyFrame,
    sets: list[ResolvedEvents],
    anchor_frames: dict[ResolvedEvents, pl.LazyFrame],
    key: str = "patient_id",
    *,
    codes_read: bool = False,
    day_frames: dict[CodeTuple, pl.LazyFrame] | None = None,
    ordered: bool = False,
) -> tuple[pl.LazyFrame, list[pl.LazyFrame]]:
    """One read of an event table for ``sets`` (all of one table and level): one group_by.

    ``key`` is the column linking events to patients (``patient_key`` in a snapshot).
    Returns the per-patient aggregates and the frames holding ``latest``/``first`` values
    computed apart: when the pass has more of them than :data:`ONE_STAGE_UP_TO` (see
    :func:`on_day_stages`), or when its rows come sorted (see ``ordered``).
    ``codes_read``: ``frame`` holds only the union of the sets' codes already
    (``Dataset.events``). ``day_frames``: per diagnosis code set of an ``on the same day``
    option, its patients' diagnosis days (:func:`~matcher.engine.same_day.days`).
    ``ordered``: ``frame``'s rows are sorted by ``key`` then date (one code of a snapshot):
    with no anchor nor same-day join to reorder them, each ``latest``/``first`` value is
    then found by position (:func:`~matcher.engine.latest.on_sorted_day`), not hashed."""
    condition = prefilter(sets, codes=not codes_read)
    rows = frame.filter(condition) if condition is not None else frame
    ordered = ordered and not any(s.anchors() or s.same_day is not None for s in sets)
    if any(s.domain is ir.Domain.OBSERVATION for s in sets):
        rows = plan.units.attach(rows, keep_order=ordered)
    joined: set[str] = set()
    for s in sets:
        for anchor, which in s.anchors():
            col = plan.column(anchor, ("min",) if which == "first" else ("max",))
            if col in joined:
                continue
            joined.add(col)
            source = anchor_frames[anchor].select(key, col)
            rows = rows.join(source, on=key, how="left")
    rows = same_day.attach(plan, rows, sets, day_frames or {}, key)  # issue 18
    # the rows of one code set read from a code index hold its codes only: no code test
    read_only = codes_read and len({s.codes for s in sets}) == 1
    bare = {s: dataclasses.replace(s, codes=None) if read_only else s for s in sets}
    rows = rows.with_columns(mask_expr(plan, bare[s]).alias(plan.mask(s)) for s in sets)
    rows = rows.with_columns(
        maybe_expr(plan, bare[s]).alias(plan.maybe(s)) for s in sets if uncertain(s)
    )
    wanted = [(s, need) for s in sets for need in sorted(plan.needs[s], key=str)]
    on_day = [(s, need) for s, need in wanted if _on_day(need)]
    if len(on_day) <= ONE_STAGE_UP_TO and ordered and on_day:
        apart = [sorted_on_day(plan, rows, s, need, key) for s, need in on_day]
        done = {(s, n) for s, need in on_day for n in (need, ("vday", *need[1:]))}
        unknown = [(s, need) for s, need in wanted if need[0] == "vk" and need[1] in ON_DAY]
        apart += [sorted_unknown_day(plan, rows, s, need, key) for s, need in unknown]
        done |= set(unknown)
        aggs = [reduction(plan, s, need) for s, need in wanted if (s, need) not in done]
        aggs += plan.count_rows(sets, read_only=codes_read)
        if all(_is_length(a) for a in aggs):  # counts of rows only: sorted runs, no hashing
            rows = rows.with_columns(pl.col(key).set_sorted())
        return rows.group_by(key).agg(aggs), apart
    if len(on_day) <= ONE_STAGE_UP_TO:
        aggs = [reduction(plan, s, need) for s, need in wanted]
        return rows.group_by(key).agg(aggs + plan.count_rows(sets, read_only=codes_read)), []
    aggs = [reduction(plan, s, need) for s, need in wanted if not _on_day(need)]
    aggs += plan.count_rows(sets, read_only=codes_read)
    days, day_names, values = on_day_stages(plan, on_day)
    rows = rows.cache()  # read once for both stages (the optimiser does not always share it)
    out = rows.group_by(key).agg(aggs + days)
    usable_any = pl.any_horizontal(_usable(plan, s, need)[1] for s, need in on_day)
    unique_days = list(dict.fromkeys(day_names))
    second = rows.filter(usable_any).join(out.select(key, *unique_days), on=key, how="inner")
    on_any_day = pl.any_horizontal(pl.col("date") == pl.col(d) for d in unique_days)
    second = second.filter(on_any_day).group_by(key).agg(values)
    return out.drop(d.meta.output_name() for d in days), [second]


def _is_length(agg: pl.Expr) -> bool:
    """Whether ``agg`` is a plain row count (``pl.len()``, see :meth:`Plan.count_rows`)."""
    return agg.meta.undo_aliases().meta.eq(pl.len()) or agg.meta.undo_aliases().meta.eq(
        pl.len().cast(pl.Int64)
    )


def sorted_unknown_day(
    plan: Plan, rows: pl.LazyFrame, events: ResolvedEvents, need: tuple, key: str
) -> pl.LazyFrame:
    """The ``vk`` reduction of a ``latest``/``first`` value (the latest/first date of a row
    whose value cannot be converted, see :func:`_uncertain_reduction`) from ``rows`` sorted
    by ``key`` then date: those rows (usually none) kept and each patient's last/first taken
    by position, so the pass's ``group_by`` does not compute it over every row."""
    mask = pl.col(plan.mask(events))
    maybe = pl.col(plan.maybe(events)) if uncertain(events) else pl.lit(False)
    values = plan.units.value_expr(plan.units.unit_of(need[2]))
    unknown = (maybe | (mask & values.is_null())) & pl.col(VALUE_FINITE).is_not_null()
    return latest.sorted_day(
        rows, key, unknown.fill_null(False), need[1], plan.column(events, need)
    )


def sorted_on_day(
    plan: Plan, rows: pl.LazyFrame, events: ResolvedEvents, need: tuple, key: str
) -> pl.LazyFrame:
    """The ``latest``/``first`` value ``need`` of ``events`` (and its ``vday`` reduction when
    the plan wants it) from ``rows`` sorted by ``key`` then date: see
    :mod:`matcher.engine.latest`."""
    value, usable = _usable(plan, events, need)
    vday = ("vday", *need[1:])
    day = plan.column(events, vday) if vday in plan.needs[events] else None
    name = plan.column(events, need)
    return latest.on_sorted_day(rows, key, usable, value, need[1], name, day)
