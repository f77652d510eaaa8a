"""Issue 18, the cause of an event: the ``with diagnosis of X on the same day`` option.

The diagnoses of ``X`` are read once per code set and reduced to their distinct
``(patient, date)`` pairs (:func:`days`); each event pass that has a set with the option
left-joins those days on ``(patient, date)`` (:func:`attach`), adding one Boolean column per
code set that the set's row mask requires (:func:`~matcher.engine.plan.mask_expr`). A join,
not a loop: the rows of every patient are flagged at once.

>>> import datetime as dt
>>> diagnoses = pl.LazyFrame({"patient_id": ["a", "a", "b"], "system": ["icd10"] * 3,
...     "code": ["I50.9", "I50.9", "E11.9"],
...     "date": [dt.date(2024, 1, 5), dt.date(2024, 1, 5), dt.date(2024, 1, 5)]})
>>> days(diagnoses, (("icd10", ("I50.9",)),), "__sd0", "patient_id").collect().rows()
[('a', datetime.date(2024, 1, 5), True)]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from matcher.engine.plan import CodeTuple, Plan, ResolvedEvents

DIAGNOSES = "diagnoses"


def days(diagnoses: pl.LazyFrame, codes: CodeTuple, column: str, key: str) -> pl.LazyFrame:
    """The distinct (patient, date) of the diagnoses of ``codes``, flagged ``column`` = true."""
    from matcher.engine.plan import codes_expr

    return (
        diagnoses.filter(codes_expr(codes))
        .select(key, "date")
        .unique()
        .with_columns(pl.lit(True).alias(column))
    )


def attach(
    plan: Plan,
    rows: pl.LazyFrame,
    sets: list[ResolvedEvents],
    day_frames: dict[CodeTuple, pl.LazyFrame],
    key: str,
) -> pl.LazyFrame:
    """``rows`` with the day column of every ``on the same day`` code set of ``sets`` (false
    on a day without such a diagnosis)."""
    wanted = dict.fromkeys(s.same_day for s in sets if s.same_day is not None)
    for codes in wanted:
        assert codes is not None
        column = plan.same_days[codes]
        rows = rows.join(day_frames[codes], on=[key, "date"], how="left")
        rows = rows.with_columns(pl.col(column).fill_null(False))
    return rows


def day_frames(
    plan: Plan,
    tables: dict[str, pl.LazyFrame],
    key: str,
    read: Callable[[str, dict[str, set[str]] | None], pl.LazyFrame] | None,
) -> dict[CodeTuple, pl.LazyFrame]:
    """Per code set of an ``on the same day`` option, its diagnosis days (read once each)."""
    out: dict[CodeTuple, pl.LazyFrame] = {}
    for codes, column in plan.same_days.items():
        wanted = {system: set(values) for system, values in codes}
        source = tables[DIAGNOSES] if read is None else read(DIAGNOSES, wanted)
        out[codes] = days(source, codes, column, key)
    return out
