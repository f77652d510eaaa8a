"""Issue 18, drugs: stable dose and no change, per patient, from the daily doses of the
prescriptions of a code set (see :class:`~criteria_dsl.ir.StableDose` and
:class:`~criteria_dsl.ir.NoChange` for the rules).

Both compare, code by code, the prescriptions of a *window* with the code's prescriptions on
its latest date in a *baseline* period before it. One pass over the prescriptions of the set
per (code set, periods): a window function gives each code's latest baseline date, one
``group_by`` per (patient, code) says whether the code is new in the window, has two known
daily doses that differ, or has one that is unknown, and a second ``group_by`` per patient
reduces the codes. Daily doses are compared in mg for mass units, else as written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from criteria_dsl import ir
from matcher.data.convert import finite_or_null
from matcher.engine.dates import shift_date
from matcher.engine.plan import CodeTuple, codes_expr
from terminology.ddd import MASS_MG

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class DoseHistory:
    """The periods of one stable-dose or no-change question (dates inclusive)."""

    codes: CodeTuple
    base_start: dt.date | None
    base_end: dt.date
    window_start: dt.date
    window_end: dt.date


def _codes(study: ir.Study, ref: ir.CodeSetRef) -> CodeTuple:
    return tuple(sorted(study.codeset(ref.name).resolved.by_system().items()))


def history_of(node: ir.StableDose | ir.NoChange, study: ir.Study, index: dt.date) -> DoseHistory:
    """The baseline and window periods of ``node`` at ``index``."""
    start = shift_date(index, node.duration, "before")
    if isinstance(node, ir.StableDose):  # baseline: on or before the start; window after it
        return DoseHistory(_codes(study, node.codes), None, start, start + ONE_DAY, index)
    lookback = shift_date(start, node.lookback, "before")
    return DoseHistory(_codes(study, node.codes), lookback, start - ONE_DAY, start, index)


def columns(plan: Any, history: DoseHistory) -> tuple[str, str, str]:
    """The (any baseline row, some code changed, some code unknown) columns of ``history``."""
    histories: dict[DoseHistory, int] = plan.histories
    n = histories.setdefault(history, len(histories))
    return f"__h{n}_base", f"__h{n}_false", f"__h{n}_unknown"


def predicate(node: ir.StableDose | ir.NoChange, ctx: Any) -> pl.Expr:
    base, changed, unknown = (
        pl.col(c) for c in columns(ctx.plan, history_of(node, ctx.study, ctx.index))
    )
    out = pl.when(changed).then(False).when(unknown).then(None).otherwise(True)
    if isinstance(node, ir.StableDose):
        return pl.when(~base).then(False).otherwise(out)
    return out


def comparable_dose() -> tuple[pl.Expr, pl.Expr]:
    """The daily dose and its unit as compared: mg for mass units, else as written."""
    amount = finite_or_null(pl.col("daily_dose").cast(pl.Float64))
    unit = pl.col("dose_unit").cast(pl.String)
    factor = unit.replace_strict(
        list(MASS_MG), list(MASS_MG.values()), default=None, return_dtype=pl.Float64
    )
    value = pl.when(factor.is_not_null()).then(amount * factor).otherwise(amount)
    return value, pl.when(factor.is_not_null()).then(pl.lit("mg")).otherwise(unit)


def history_frame(history: DoseHistory, source: pl.LazyFrame, key: str, n: int) -> pl.LazyFrame:
    """Per patient with a prescription of the set in the periods: the three columns."""
    date = pl.col("date")
    keep = codes_expr(history.codes) & (date <= history.window_end)
    if history.base_start is not None:
        keep = keep & (date >= history.base_start)
    value, unit = comparable_dose()
    group = [key, "system", "code"]
    rows = source.filter(keep).with_columns(
        _v=value,
        _u=unit,
        _base=date <= history.base_end,
        _win=date >= history.window_start,
    )
    rows = rows.with_columns(_known=pl.col("_v").is_not_null() & pl.col("_u").is_not_null())
    rows = rows.with_columns(_last=pl.when("_base").then(date).max().over(group))
    relevant = pl.col("_win") | (pl.col("_base") & (date == pl.col("_last")))
    per_code = rows.group_by(group).agg(
        _has_base=pl.col("_base").any(),
        _has_win=pl.col("_win").any(),
        _n=pl.struct("_v", "_u").filter(relevant & pl.col("_known")).n_unique(),
        _unknown=(relevant & ~pl.col("_known")).any(),
    )
    changed = pl.col("_has_win") & (~pl.col("_has_base") | (pl.col("_n") > 1))
    unknown = pl.col("_has_win") & ~changed & pl.col("_unknown")
    return per_code.group_by(key).agg(
        pl.col("_has_base").any().alias(f"__h{n}_base"),
        changed.any().alias(f"__h{n}_false"),
        unknown.any().alias(f"__h{n}_unknown"),
    )


EventReader = Callable[[str, Mapping[str, Collection[str]] | None], pl.LazyFrame]


def history_frames(
    plan: Any, tables: dict[str, pl.LazyFrame], key: str, read: EventReader | None
) -> list[tuple[pl.LazyFrame, dict[str, object]]]:
    """The aggregate frames of every dose history of the plan, with their fills."""
    out: list[tuple[pl.LazyFrame, dict[str, object]]] = []
    for history, n in plan.histories.items():
        wanted = {system: set(codes) for system, codes in history.codes}
        source = tables["prescriptions"] if read is None else read("prescriptions", wanted)
        frame = history_frame(history, source, key, n)
        fills = {f"__h{n}_base": False, f"__h{n}_false": False, f"__h{n}_unknown": False}
        out.append((frame, fills))
    return out
