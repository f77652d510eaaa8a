"""``latest``/``first`` values over rows sorted by patient then date, without a hash ``group_by``.

On a snapshot the rows of one code are stored sorted by patient then date
(:meth:`~matcher.snapshot.reader.SnapshotDataset.key_sorted`), and the filters of a pass keep
that order. The value on a patient's latest usable day is then found by position: the usable
rows are kept, each row learns the date of its patient's last usable row (the row before the
key changes, filled backwards), the rows on that day are kept (one per patient, a few more
where several values share the day) and a ``group_by`` on the still sorted key takes the
largest value (Polars' sorted-key path: slices, no hashing). ``first`` is the mirror image.
At 1M patients the value and its date of a ``latest`` systolic pressure (340k rows in the
window) cost 0.012 s of CPU this way against 0.035 s as aggregations of the pass's hashed
``group_by`` (:func:`~matcher.engine.plan.on_day_value`).

Same result as :func:`~matcher.engine.plan.on_day_value` (the value on the latest/first
usable day, ties broken by the largest value) and as the ``vday`` reduction (that day):

    >>> rows = pl.LazyFrame({"k": [0, 0, 0, 1, 2, 2], "date": [1, 5, 5, 2, 3, 4],
    ...     "v": [9.0, 1.0, 4.0, 7.0, 6.0, None], "m": [True] * 6})
    >>> usable = pl.col("m") & pl.col("v").is_not_null()
    >>> on_sorted_day(rows, "k", usable, pl.col("v"), "latest", "value", "day").collect().rows()
    [(0, 4.0, 5), (1, 7.0, 2), (2, 6.0, 3)]
    >>> on_sorted_day(rows, "k", usable, pl.col("v"), "first", "value", None).collect().rows()
    [(0, 9.0), (1, 7.0), (2, 6.0)]
"""

from __future__ import annotations

import polars as pl


def on_sorted_day(
    rows: pl.LazyFrame,
    key: str,
    usable: pl.Expr,
    value: pl.Expr,
    which: str,
    name: str,
    day_name: str | None,
) -> pl.LazyFrame:
    """Per patient with a usable row, the largest ``value`` on its latest (``which`` =
    ``"latest"``) or first usable day, as column ``name``, and that day as ``day_name`` (None:
    not wanted). ``rows`` must be sorted by ``key`` then ``date``."""
    kept = rows.filter(usable).select(key, "date", value.alias(name))
    patient = pl.col(key)
    if which == "latest":  # the last row of each patient holds its latest day
        edge = (patient != patient.shift(-1)).fill_null(True)
        day = pl.when(edge).then(pl.col("date")).backward_fill()
    else:  # the first row of each patient holds its first day
        edge = (patient != patient.shift(1)).fill_null(True)
        day = pl.when(edge).then(pl.col("date")).forward_fill()
    on_day = kept.filter(pl.col("date") == day).with_columns(patient.set_sorted())
    out = [pl.col(name).max()]
    if day_name is not None:
        out.append(pl.col("date").first().alias(day_name))
    return on_day.group_by(key, maintain_order=True).agg(out)


def sorted_day(rows: pl.LazyFrame, key: str, keep: pl.Expr, which: str, name: str) -> pl.LazyFrame:
    """Per patient with a row where ``keep`` holds, the date of the last (``which`` =
    ``"latest"``) or first such row, as column ``name``: its latest/first date, since
    ``rows`` are sorted by ``key`` then ``date``.

        >>> rows = pl.LazyFrame({"k": [0, 0, 1, 1], "date": [1, 4, 2, 3],
        ...                      "u": [True, True, False, True]})
        >>> sorted_day(rows, "k", pl.col("u"), "latest", "d").collect().rows()
        [(0, 4), (1, 3)]
        >>> sorted_day(rows, "k", pl.col("u"), "first", "d").collect().rows()
        [(0, 1), (1, 3)]
    """
    kept = rows.filter(keep).select(key, pl.col("date").alias(name))
    patient = pl.col(key)
    if which == "latest":
        return kept.filter((patient != patient.shift(-1)).fill_null(True))
    return kept.filter((patient != patient.shift(1)).fill_null(True))


__all__ = ["on_sorted_day", "sorted_day"]
