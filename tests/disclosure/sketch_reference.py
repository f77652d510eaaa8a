"""The sketch code as it was before the fast path (commit bdba694), kept as the oracle.

Stored sketches are compared with new ones across versions, so the fast
:func:`matcher.disclosure.sketch.keyed_hashes` and
:func:`matcher.feasibility.sketches.study_sketches` must give exactly these values.
Slow (a gather of 8 bytes per row and word, one filtered copy of the frame per count), and
obviously the definition: do not optimise it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from matcher.disclosure.sketch import SKETCH_SIZE, bottom_k, hash_key
from matcher.feasibility.dimensions import SEP, breakdown_names, category_expr
from matcher.feasibility.sketches import rule_mask as _mask

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def reference_keyed_hashes(ids: pl.Series | Sequence[str], key: bytes) -> np.ndarray:
    """Keyed 64-bit hash of every pseudonym, as first released."""
    series = ids if isinstance(ids, pl.Series) else pl.Series(list(ids), dtype=pl.String)
    if series.len() == 0:
        return np.empty(0, dtype=np.uint64)
    arrow = series.cast(pl.String).cast(pl.Binary).rechunk().to_arrow()
    if hasattr(arrow, "combine_chunks"):
        arrow = arrow.combine_chunks()
    if arrow.null_count:
        raise ValueError("a patient set contains a missing pseudonym")
    _, offsets_buf, data_buf = arrow.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)
    offsets = offsets[arrow.offset : arrow.offset + len(arrow) + 1]
    data = np.zeros(8, dtype=np.uint8)
    if data_buf is not None:
        data = np.concatenate([np.frombuffer(data_buf, dtype=np.uint8), data])
    starts, lengths = offsets[:-1], np.diff(offsets)
    words = np.frombuffer(key, dtype="<u8").copy()
    with np.errstate(over="ignore"):
        h = _mix(words[0] ^ lengths.astype(np.uint64))
        for j in range(int(-(-lengths.max() // 8)) if lengths.size else 0):
            position = np.minimum(starts + 8 * j, data.size - 8)
            chunk = data[position[:, None] + np.arange(8)]
            chunk[np.arange(8)[None, :] >= (lengths - 8 * j)[:, None]] = 0
            word = chunk.copy().view("<u8").ravel()
            mixed = _mix(h ^ word ^ words[1 + j % 6])
            h = np.where(8 * j < lengths, mixed, h)
        return _mix(h ^ words[7])


def reference_sketches(
    frame: pl.DataFrame,
    steps: list[str],
    names: list[str],
    active: list[str],
    dims,
    secret,
    *,
    pooled: bool = True,
) -> dict[str, bytes]:
    """Every count's sketch, as ``matcher.feasibility.build._sketches`` first computed them."""
    hashed = frame.with_columns(
        pl.Series(
            "__h", reference_keyed_hashes(frame["patient_id"], hash_key(secret)), dtype=pl.UInt64
        )
    )

    def sketch(part: pl.DataFrame) -> bytes:
        return bottom_k(part["__h"].to_numpy())

    out = {
        "base": sketch(hashed),
        "eligible": sketch(hashed.filter(pl.col("__eligible"))),
        "possibly_eligible": sketch(hashed.filter(pl.col("__possibly"))),
    }
    bits, applied, all_active = pl.col("rule_bits"), 0, _mask(names, active)
    for i, name in enumerate(steps, start=1):
        bit = _mask(names, [name])
        applied |= bit
        kept = hashed.filter((bits & pl.lit(applied, dtype=pl.UInt64)) == 0)
        out["remaining:" + "+".join(sorted(steps[:i]))] = sketch(kept)
        alone = hashed.filter((bits & pl.lit(all_active, dtype=pl.UInt64)) == bit)
        out[f"excluded_alone:{name}"] = sketch(alone)
    if dims:
        labels = (category_expr(d, pooled=pooled) for d in dims)
        labelled = hashed.select("__h", "__eligible", *labels)
        eligible = labelled.filter(pl.col("__eligible"))
        for name in breakdown_names(tuple(dims)):
            parts = name.split(SEP)
            column = pl.concat_str([pl.col(p) for p in parts], separator=SEP).alias("__cell")
            every = set(labelled.select(column).to_series().unique().to_list())
            if len(parts) == 2:
                firsts = labelled[parts[0]].unique().to_list()
                seconds = labelled[parts[1]].unique().to_list()
                every = {f"{a}{SEP}{b}" for a in firsts for b in seconds}
            groups = eligible.group_by(column).agg(pl.col("__h").bottom_k(SKETCH_SIZE))
            members = dict(groups.rows())
            for c in every:
                out[f"breakdown:{name}={c}"] = bottom_k(
                    pl.Series(members.get(c, []), dtype=pl.UInt64).to_numpy()
                )
    return out
