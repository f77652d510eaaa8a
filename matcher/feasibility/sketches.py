"""The similarity sketch of every count of one study, from one hash per patient and one pass.

Each count released for a study (base, eligible, possibly eligible, remaining after each
funnel step, excluded by one rule alone, breakdown cells) gets the keyed bottom-k sketch of
its patient set (:mod:`matcher.disclosure.sketch`), for the ledger's sticky answers.

Every one of these sets, breakdowns aside, is a union of *classes*: patients with the same
failed active rules (``rule_bits`` restricted to the active rules) and the same verdict
(``__eligible``, ``__possibly``) are in the same sets. So the pseudonyms are hashed once, the
``k`` smallest hashes of each class are taken in one grouped pass, and each set's sketch is
the bottom-k of its classes' bottom-ks: exact, since the ``k`` smallest values of a union are
among the ``k`` smallest of its parts. A funnel of ``r`` rules costs one hash per patient and
one grouped pass, not ``2r + 3`` filtered copies of the per-patient table.

    >>> import polars as pl
    >>> from matcher.disclosure.sketch import sketch_size
    >>> frame = pl.DataFrame({
    ...     "patient_id": ["p1", "p2", "p3", "p4"],
    ...     "rule_bits": [0, 0, 1, 2], "unknown_bits": [0, 2, 0, 0],
    ...     "__eligible": [True, False, False, False],
    ...     "__possibly": [False, True, False, False],
    ... }, schema_overrides={"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64})
    >>> out = study_sketches(frame, ["a", "b"], ["a", "b"], ["a", "b"], (), b"secret")
    >>> {name: sketch_size(s) for name, s in sorted(out.items())}  # doctest: +NORMALIZE_WHITESPACE
    {'base': 4, 'eligible': 1, 'excluded_alone:a': 1, 'excluded_alone:b': 1,
     'possibly_eligible': 1, 'remaining:a': 3, 'remaining:a+b': 2}
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from matcher.disclosure.sketch import SKETCH_SIZE, bottom_k, hash_key, keyed_hashes
from matcher.feasibility.dimensions import SEP, breakdown_names, category_expr


def rule_mask(rule_names: Sequence[str], names: Sequence[str]) -> int:
    """The bits of ``names`` in ``rule_bits`` (bit ``i`` for the ``i``-th rule of the study).

    >>> rule_mask(["a", "b", "c"], ["a", "c"])
    5
    """
    position = {n: i for i, n in enumerate(rule_names)}
    mask = 0
    for name in names:
        mask |= 1 << position[name]
    return mask


def _class_bottoms(hashed: pl.DataFrame, all_active: int) -> pl.DataFrame:
    """One row per class: ``failed`` (its failed active rules), ``__eligible``,
    ``__possibly`` and ``__h``, its ``k`` smallest hashes.

    The class is grouped on one integer (failed rules, then the two verdict bits) when the
    active rules' bits leave room for them, which groups about twice as fast as three keys.
    """
    failed = pl.col("rule_bits") & pl.lit(all_active, dtype=pl.UInt64)
    smallest = pl.col("__h").bottom_k(SKETCH_SIZE)
    if all_active >= 1 << 62:
        return hashed.group_by(failed.alias("failed"), "__eligible", "__possibly").agg(smallest)
    verdict = pl.col("__eligible").cast(pl.UInt64) * 2 + pl.col("__possibly").cast(pl.UInt64)
    key = pl.col("__class")
    return (
        hashed.lazy()
        .select((failed * 4 + verdict).alias("__class"), "__h")
        .group_by("__class")
        .agg(smallest)
        .select(
            (key // 4).alias("failed"),
            (key & 2 != 0).alias("__eligible"),
            (key & 1 != 0).alias("__possibly"),
            "__h",
        )
        .collect()
    )


def study_sketches(
    frame: pl.DataFrame,
    steps: list[str],
    names: list[str],
    active: list[str],
    dims: Sequence[str],
    secret: bytes,
    *,
    pooled: bool = True,
) -> dict[str, bytes]:
    """Keyed bottom-k sketch of the set behind every count (cell names as in the ledger).

    ``frame``: the per-patient table with ``patient_id``, ``rule_bits`` and the status
    columns of :func:`matcher.feasibility.build.status_columns`; ``steps`` the funnel's rules
    in order, ``names`` all the study's rules, ``active`` those not switched off.
    ``pooled=False``: centres keep their own labels (see :func:`category_expr`).
    """
    hashes = keyed_hashes(frame["patient_id"], hash_key(secret))
    hashed = frame.select("rule_bits", "__eligible", "__possibly").with_columns(
        pl.Series("__h", hashes, dtype=pl.UInt64)
    )
    all_active = rule_mask(names, active)
    classes = _class_bottoms(hashed, all_active)
    failed = classes["failed"].to_numpy()
    eligible = classes["__eligible"].to_numpy()
    possibly = classes["__possibly"].to_numpy()
    lengths = classes["__h"].list.len().to_numpy()
    values = classes["__h"].explode().drop_nulls().to_numpy()
    owner = np.repeat(np.arange(classes.height), lengths)

    def sketch(chosen: np.ndarray) -> bytes:
        return bottom_k(values[chosen[owner]])

    out = {
        "base": bottom_k(values),
        "eligible": sketch(eligible),
        "possibly_eligible": sketch(possibly),
    }
    applied = 0
    for i, name in enumerate(steps, start=1):
        bit = rule_mask(names, [name])
        applied |= bit
        out["remaining:" + "+".join(sorted(steps[:i]))] = sketch((failed & applied) == 0)
        out[f"excluded_alone:{name}"] = sketch(failed == bit)
    if dims:
        out.update(_breakdown_sketches(frame, hashes, tuple(dims), pooled=pooled))
    return out


def _breakdown_sketches(
    frame: pl.DataFrame, hashes: np.ndarray, dims: tuple[str, ...], *, pooled: bool
) -> dict[str, bytes]:
    """The sketch of every breakdown cell of the eligible count, every category of the base
    population listed (an empty cell has the empty sketch)."""
    out: dict[str, bytes] = {}
    labels = (category_expr(d, pooled=pooled) for d in dims)
    hashed = frame.with_columns(pl.Series("__h", hashes, dtype=pl.UInt64))
    labelled = hashed.select("__h", "__eligible", *labels)
    eligible = labelled.filter(pl.col("__eligible"))
    for name in breakdown_names(dims):
        parts = name.split(SEP)
        column = pl.concat_str([pl.col(p) for p in parts], separator=SEP).alias("__cell")
        if len(parts) == 2:
            firsts = labelled[parts[0]].unique().to_list()
            seconds = labelled[parts[1]].unique().to_list()
            every = {f"{a}{SEP}{b}" for a in firsts for b in seconds}
        else:
            every = set(labelled.select(column).to_series().unique().to_list())
        groups = eligible.group_by(column).agg(pl.col("__h").bottom_k(SKETCH_SIZE))
        members = dict(groups.rows())
        for c in every:
            out[f"breakdown:{name}={c}"] = bottom_k(
                pl.Series(members.get(c, []), dtype=pl.UInt64).to_numpy()
            )
    return out
