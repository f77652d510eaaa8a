"""Calendar arithmetic of the engine: constant bounds in Python, per-patient bounds in Polars.

Months and years are calendar months (a year is twelve months); a day missing from the target
month is clipped to that month's last day. Days and weeks are exact numbers of days.

    >>> import datetime as dt
    >>> from criteria_dsl.ir import Duration, TimeUnit
    >>> shift_date(dt.date(2024, 3, 31), Duration(1, TimeUnit.MONTH), "before")
    datetime.date(2024, 2, 29)
    >>> shift_date(dt.date(2024, 2, 29), Duration(1, TimeUnit.YEAR), "after")
    datetime.date(2025, 2, 28)
    >>> polars_offset(Duration(2, TimeUnit.WEEK), "before")
    '-14d'
"""

from __future__ import annotations

import calendar
import datetime as dt

from criteria_dsl.ir import Duration, TimeUnit


def _months(duration: Duration) -> int | None:
    if duration.unit is TimeUnit.MONTH:
        return duration.amount
    if duration.unit is TimeUnit.YEAR:
        return 12 * duration.amount
    return None


def _days(duration: Duration) -> int:
    return duration.amount * (7 if duration.unit is TimeUnit.WEEK else 1)


def shift_date(day: dt.date, duration: Duration | None, direction: str) -> dt.date:
    """``day`` moved by ``duration`` ``"before"`` or ``"after"`` (``None``: unchanged)."""
    if duration is None:
        return day
    sign = -1 if direction == "before" else 1
    months = _months(duration)
    if months is None:
        return day + dt.timedelta(days=sign * _days(duration))
    total = day.year * 12 + (day.month - 1) + sign * months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def polars_offset(duration: Duration, direction: str) -> str:
    """The ``Expr.dt.offset_by`` string for ``duration`` (Polars clips month ends the same way)."""
    sign = "-" if direction == "before" else ""
    months = _months(duration)
    if months is None:
        return f"{sign}{_days(duration)}d"
    return f"{sign}{months}mo"
