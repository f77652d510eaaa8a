"""The similarity sketch of every count of one study, from one hash per patient and one pass.

Each count released for a study (base, eligible, possibly eligible, remaining after each
funnel step, excluded by one rule alone, breakdown cells) gets the keyed bottom-k sketch of
its patient set (:mod:`matcher.disclosure.sketch`), for the ledger's sticky answers.

Every one of these sets, breakdowns aside, is a union of *classes*: patients with the same
failed active rules and the same unknown active rules (``rule_bits`` and ``unknown_bits``
restricted to the active rules) are in the same sets. So the pseudonyms are hashed once, the
``k`` smallest hashes of each class are taken in one grouped pass, and each set's sketch is
the bottom-k of its classes' bottom-ks: exact, since the ``k`` smallest values of a union are
among the ``k`` smallest of its parts. A funnel of ``r`` rules costs one hash per patient and
one grouped pass, not ``2r + 3`` filtered copies of the per-patient table; the same classes
(with their sizes) give the attrition funnel (:func:`matcher.feasibility.build.build_raw`).

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


def patient_classes(
    patients: pl.DataFrame, all_active: int, hashes: np.ndarray | None = None
) -> pl.DataFrame:
    """The patients grouped by their failed and unknown active rules: one row per class with
    ``rule_bits`` and ``unknown_bits`` (restricted to ``all_active``), ``n`` (patients) and,
    when ``hashes`` (one per patient) are given, ``__h``: the class's ``k`` smallest.

    Every count of the funnel is a sum over classes (:func:`matcher.engine.result.funnel`
    with ``weight="n"``), every sketch a bottom-k of classes' bottom-ks. The class is grouped
    on one integer (failed rules, unknown rules) when the active rules fit in 32 bits, which
    groups about twice as fast as two keys.

    >>> frame = pl.DataFrame({"rule_bits": [0, 1, 1, 4], "unknown_bits": [2, 0, 0, 0]},
    ...                      schema={"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64})
    >>> patient_classes(frame, 3).sort("rule_bits", "unknown_bits").rows()
    [(0, 0, 1), (0, 2, 1), (1, 0, 2)]
    """
    mask = pl.lit(all_active, dtype=pl.UInt64)
    failed, unknown = pl.col("rule_bits") & mask, pl.col("unknown_bits") & mask
    columns = [pl.col("rule_bits"), pl.col("unknown_bits")]
    aggregates = [pl.len().cast(pl.UInt64).alias("n")]
    if hashes is not None:
        columns.append(pl.Series("__h", hashes, dtype=pl.UInt64))
        aggregates.append(pl.col("__h").bottom_k(SKETCH_SIZE))
    frame = patients.select(columns).lazy()
    if all_active >= 1 << 32:
        grouped = frame.group_by(failed.alias("rule_bits"), unknown.alias("unknown_bits"))
        return grouped.agg(aggregates).collect()
    key, low = pl.col("__class"), pl.lit((1 << 32) - 1, dtype=pl.UInt64)
    packed = (failed * pl.lit(1 << 32, dtype=pl.UInt64) + unknown).alias("__class")
    return (
        frame.with_columns(packed)
        .group_by("__class")
        .agg(aggregates)
        .with_columns((key // (1 << 32)).alias("rule_bits"), (key & low).alias("unknown_bits"))
        .select("rule_bits", "unknown_bits", pl.exclude("__class", "rule_bits", "unknown_bits"))
        .collect()
    )


def class_sketches(classes: pl.DataFrame, steps: list[str], names: list[str]) -> dict[str, bytes]:
    """The sketch of every count except the breakdown cells, from :func:`patient_classes`
    with hashes (its bits restricted to the active rules)."""
    failed = classes["rule_bits"].to_numpy()
    unknown = classes["unknown_bits"].to_numpy()
    lengths = classes["__h"].list.len().to_numpy()
    values = classes["__h"].explode().drop_nulls().to_numpy()
    owner = np.repeat(np.arange(classes.height), lengths)

    def sketch(chosen: np.ndarray) -> bytes:
        return bottom_k(values[chosen[owner]])

    out = {
        "base": bottom_k(values),
        "eligible": sketch((failed == 0) & (unknown == 0)),
        "possibly_eligible": sketch((failed == 0) & (unknown != 0)),
    }
    applied = 0
    for i, name in enumerate(steps, start=1):
        bit = rule_mask(names, [name])
        applied |= bit
        out["remaining:" + "+".join(sorted(steps[:i]))] = sketch((failed & applied) == 0)
        out[f"excluded_alone:{name}"] = sketch(failed == bit)
    return out


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

    ``frame``: the per-patient table with ``patient_id``, ``rule_bits``, ``unknown_bits``
    and (for breakdowns) the status columns of
    :func:`matcher.feasibility.build.status_columns`; ``steps`` the funnel's rules in order,
    ``names`` all the study's rules, ``active`` those not switched off.
    ``pooled=False``: centres keep their own labels (see :func:`category_expr`).
    """
    hashes = keyed_hashes(frame["patient_id"], hash_key(secret))
    classes = patient_classes(frame, rule_mask(names, active), hashes)
    out = class_sketches(classes, steps, names)
    if dims:
        out.update(breakdown_sketches(frame, hashes, tuple(dims), pooled=pooled))
    return out


def breakdown_sketches(
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
