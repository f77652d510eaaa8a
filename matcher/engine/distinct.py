"""Identical rule columns of several studies computed once (issue 16: fifty studies).

Studies run together often repeat one another: variants of one study keep its age limits,
its sex and registration rules and its base population (fifty studies at one index date:
359 base flags and rule columns, of which 171 differ). :func:`distinct_columns` computes
each distinct expression once, under the name of its first use, and gives every later use
that column under its own name (a zero-copy alias in a second stage), so no per-patient
value changes, only how many times it is computed.

    >>> age = (pl.col("age") >= 18)
    >>> first, aliases, same = distinct_columns([
    ...     ("__s0:adult", age), ("__s1:adult", age), ("__s1:old", pl.col("age") >= 75)])
    >>> [e.meta.output_name() for e in first], [str(e) for e in aliases]
    (['__s0:adult', '__s1:old'], ['col("__s0:adult").alias("__s1:adult")'])
    >>> same
    {'__s1:adult': '__s0:adult'}
    >>> frame = pl.LazyFrame({"age": [17, 80]}).with_columns(first).with_columns(aliases)
    >>> frame.collect().rows()
    [(17, False, False, False), (80, True, True, True)]
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl


def signature(expr: pl.Expr) -> bytes | None:
    """What two equal expressions share (their serialised plan, aliases removed); ``None``
    when the expression cannot be serialised (it is then never merged with another).

    >>> signature(pl.col("a") > 1) == signature((pl.col("a") > 1).alias("x"))
    True
    >>> signature(pl.col("a") > 1) == signature(pl.col("a") > 2)
    False
    """
    try:
        return expr.meta.undo_aliases().meta.serialize(format="binary")
    except Exception:  # an expression Polars cannot serialise: computed on its own
        return None


def distinct_columns(
    named: Iterable[tuple[str, pl.Expr]],
) -> tuple[list[pl.Expr], list[pl.Expr], dict[str, str]]:
    """The expressions to compute (one per distinct expression, named after its first use),
    the aliases giving the later uses their names (``with_columns(first)`` then
    ``with_columns(aliases)``), and the first use of each later one (what reads a later use
    may read the first: the same values)."""
    seen: dict[bytes, str] = {}
    first: list[pl.Expr] = []
    aliases: list[pl.Expr] = []
    for name, expr in named:
        key = signature(expr)
        known = seen.get(key) if key is not None else None
        if known is None:
            if key is not None:
                seen[key] = name
            first.append(expr.alias(name))
        else:
            aliases.append(pl.col(known).alias(name))
    same = {alias.meta.output_name(): alias.meta.root_names()[0] for alias in aliases}
    return first, aliases, same


def by_frame(
    rules: list[pl.Expr], frames: list[pl.DataFrame], key: str
) -> tuple[dict[int, list[pl.Expr]], list[pl.Expr]]:
    """The rule columns that read the columns of one aggregate frame only, by frame (they
    can be computed over that frame's rows, its patients with events, see
    :func:`sparse_columns`), and the others (computed over every patient).

    A rule reading several frames is among the others: gathering its frames' rows into one
    (no hash join: by places) cost more than it saved (fifty studies at 1M: +0.2 s CPU).

    >>> counts, days = pl.DataFrame({"k": [0], "n": [2]}), pl.DataFrame({"k": [1], "d": [3]})
    >>> rules = [(pl.col("n") >= 2).alias("r"), (pl.col("age") > 1).alias("a"),
    ...          (pl.col("n") > pl.col("d")).alias("b")]
    >>> sparse, dense = by_frame(rules, [counts, days], "k")
    >>> {k: [e.meta.output_name() for e in v] for k, v in sparse.items()}
    {0: ['r']}
    >>> [e.meta.output_name() for e in dense]
    ['a', 'b']
    """
    home = {name: n for n, frame in enumerate(frames) for name in frame.columns if name != key}
    sparse: dict[int, list[pl.Expr]] = {}
    dense: list[pl.Expr] = []
    for rule in rules:
        places = {home.get(name, -1) for name in rule.meta.root_names()}
        if len(places) == 1 and -1 not in places:
            sparse.setdefault(places.pop(), []).append(rule)
        else:  # patient columns, several frames, shared columns or a constant
            dense.append(rule)
    return sparse, dense


def sparse_columns(
    rules: list[pl.Expr], got: pl.DataFrame, fills: dict[str, object]
) -> tuple[pl.DataFrame, dict[str, object]]:
    """``rules`` (row-wise expressions over the columns of ``got``) computed over the rows of
    ``got``, and each one's value for a patient absent from it (every column at its fill:
    null unless ``fills`` says otherwise).

    >>> got = pl.DataFrame({"k": [4], "n": [3], "v": [None]}, schema_overrides={"v": pl.Float64})
    >>> rules = [(pl.col("n") >= 2).alias("r"), (pl.col("v") > 1).fill_null(True).alias("s")]
    >>> values, absent = sparse_columns(rules, got, {"n": 0})
    >>> values.rows(), absent
    ([(True, True)], {'r': False, 's': True})
    """
    values = got.select(rules)
    row = pl.DataFrame([pl.Series(c, [fills.get(c)], dtype=got.schema[c]) for c in got.columns])
    absent = row.select(rules).row(0, named=True)
    return values, absent
