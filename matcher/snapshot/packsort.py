"""The order of a snapshot table from its packed sort key, without a two-column sort.

A snapshot table is sorted by its sort columns packed into one ``UInt64`` (``packed``), then,
among rows of equal ``packed``, by a hash of its other columns (``tie``), so that the order
does not depend on the input order. Sorting by the two columns makes Polars sort row indices
by two keys; here the packed key and the row number are put together into one ``UInt128``
whose *values* are sorted (several times faster than an index sort), which orders the rows by
``packed`` and keeps equal ones in input order; the few runs of equal ``packed`` are then put
in ``tie`` order, the hash being computed for their rows only. The permutation is the one of
``df.sort(packed, tie)`` (rows equal in both, identical rows in practice, may come in either
order in both).

    >>> df = pl.DataFrame({"k": [3, 1, 3, 2, 3], "x": ["c", "z", "a", "y", "b"]})
    >>> order = packed_order(df, pl.col("k").cast(pl.UInt64), pl.col("x").hash(seed=0))
    >>> df[order]["x"].to_list() == df.sort(pl.col("k"), pl.col("x").hash(seed=0))["x"].to_list()
    True
"""

from __future__ import annotations

import polars as pl

_LOW = pl.lit(1 << 64, dtype=pl.UInt128)


def packed_order(df: pl.DataFrame, packed: pl.Expr, tie: pl.Expr | None) -> pl.Series | None:
    """The row numbers of ``df`` in ``(packed, tie)`` order; None when ``packed`` has nulls
    (the caller sorts by the columns; nulls come first there)."""
    keys = df.select(packed.alias("packed")).to_series()
    if keys.null_count() or df.height >= 2**32:
        return None
    wide = pl.select(
        (keys.cast(pl.UInt128) * _LOW + pl.int_range(df.height, dtype=pl.UInt128)).sort()
    ).to_series()
    ordered = pl.select(packed=(wide // _LOW).cast(pl.UInt64), row=(wide % _LOW).cast(pl.UInt32))
    if tie is None:
        return ordered["row"]
    same_as_previous = pl.col("packed") == pl.col("packed").shift(1)
    marked = ordered.with_columns(
        tied=(same_as_previous | same_as_previous.shift(-1)).fill_null(False),
        run=(~same_as_previous.fill_null(False)).cum_sum(),
    ).with_row_index("at")
    ties = marked.filter("tied")
    if ties.is_empty():
        return ordered["row"]
    hashed = df[ties["row"]].select(tie.alias("tie")).to_series()
    settled = ties.with_columns(hashed).sort("run", "tie")  # runs stay where they are
    return ordered["row"].scatter(ties["at"], settled["row"])


__all__ = ["packed_order"]
