"""A finished run's outcome histogram: what a what-if is recomputed from, without a new scan.

When a worker finishes a run it keeps, per study, the number of patients for every
combination of ``(rule_bits, unknown_bits, category of each breakdown dimension)``: the same
aggregate a part of a scale-out count sends back (:mod:`matcher.scaleout.histogram`), a few
hundred rows however many patients, with no patient id. From it the base population,
eligible, possibly eligible, the funnel in any order, every what-if and every breakdown of the
run's dimensions are the exact numbers ``build_raw`` computes from the per-patient table.

For a sponsor's run the worker also keeps, per histogram row, the ledger's keyed bottom-k
similarity sketch of that row's patients. Every count of a what-if is a union of rows, and the
``k`` smallest hashes of a union are among the ``k`` smallest of its parts, so the sketch of
every count (what sticky answers compare) is exact too. Those sketches stay in the ledger's
database (``ledger_run_histogram``, written in the transaction of the run's release), like
every other sketch; the service database keeps the counts only (``api_run_histogram``).

    >>> import polars as pl
    >>> frame = pl.DataFrame({"rule_bits": [0, 1], "unknown_bits": [0, 0], "n": [7, 3]})
    >>> h = OutcomeHistogram(rules=("adult",), dims=(), frame=frame, criteria_hash="h",
    ...     index_date="2024-06-15", data_snapshot="snap-1")
    >>> OutcomeHistogram.from_json(h.to_json()).frame["n"].to_list()
    [7, 3]
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Column, LargeBinary, Text
from sqlmodel import Field, Session, SQLModel

from matcher.disclosure.sketch import SKETCH_SIZE, bottom_k, hash_key, keyed_hashes
from matcher.errors import MatcherError
from matcher.feasibility.dimensions import SEP, breakdown_names, category_expr

FORMAT = "p4dp-outcome-histogram"
BITS = ("rule_bits", "unknown_bits")


@dataclass(frozen=True)
class OutcomeHistogram:
    """One study's outcome histogram and the identity of the result it came from.

    ``frame`` has ``rule_bits``, ``unknown_bits`` (UInt64), one String column per dimension
    of ``dims`` and ``n``; ``sketches`` (sponsor runs) holds one sketch per row of ``frame``,
    in the same order, and is never serialised with it (:meth:`to_json`).
    """

    rules: tuple[str, ...]
    dims: tuple[str, ...]
    frame: pl.DataFrame
    criteria_hash: str
    index_date: str
    data_snapshot: str
    code_rows: Mapping[str, int] = field(default_factory=dict)
    not_provided: tuple[str, ...] = ()
    sketches: Sequence[bytes] | None = field(default=None, repr=False)

    def to_json(self) -> str:
        """The histogram as compact JSON (counts only, no sketch)."""
        columns = [*BITS, *self.dims, "n"]
        return json.dumps(
            {
                "format": FORMAT,
                "version": 1,
                "rules": list(self.rules),
                "dims": list(self.dims),
                "criteria_hash": self.criteria_hash,
                "index_date": self.index_date,
                "data_snapshot": self.data_snapshot,
                "code_rows": dict(self.code_rows),
                "not_provided": list(self.not_provided),
                "columns": columns,
                "rows": [list(r) for r in self.frame.select(columns).iter_rows()],
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str, sketches: Sequence[bytes] | None = None) -> OutcomeHistogram:
        data = json.loads(text)
        if data.get("format") != FORMAT or data.get("version") != 1:
            raise MatcherError("the run's stored outcome histogram is in an unknown format")
        dims = tuple(data["dims"])
        schema = {"rule_bits": pl.UInt64, "unknown_bits": pl.UInt64}
        schema |= dict.fromkeys(dims, pl.String) | {"n": pl.UInt64}
        frame = pl.DataFrame(data["rows"], schema=schema, orient="row")
        if sketches is not None and len(sketches) != frame.height:
            raise MatcherError("the run's stored sketches do not match its histogram")
        return cls(
            rules=tuple(data["rules"]),
            dims=dims,
            frame=frame,
            criteria_hash=data["criteria_hash"],
            index_date=data["index_date"],
            data_snapshot=data["data_snapshot"],
            code_rows=data.get("code_rows") or {},
            not_provided=tuple(data.get("not_provided") or ()),
            sketches=sketches,
        )


def outcome_histogram(
    result: Any, dims: Sequence[str], *, sketch_secret: bytes | None = None
) -> OutcomeHistogram | None:
    """The histogram of an engine ``Result`` (its per-patient table) over ``dims``; with a
    sketch of every row's patients when ``sketch_secret`` is given. ``None`` for a result
    without a per-patient table (counted on a cluster)."""
    patients = getattr(result, "patients", None)
    if patients is None:
        return None
    dims = tuple(dims)
    labelled = patients.select(*BITS, "patient_id", *(category_expr(d) for d in dims))
    aggs = [pl.len().cast(pl.UInt64).alias("n")]
    if sketch_secret is not None:
        hashes = keyed_hashes(labelled["patient_id"], hash_key(sketch_secret))
        labelled = labelled.with_columns(pl.Series("__h", hashes, dtype=pl.UInt64))
        aggs.append(pl.col("__h").bottom_k(SKETCH_SIZE).sort().alias("__sketch"))
    grouped = labelled.group_by(*BITS, *dims).agg(aggs).sort(*BITS, *dims)
    sketches = None
    if sketch_secret is not None:
        sketches = [bottom_k(np.asarray(v, dtype=np.uint64)) for v in grouped["__sketch"]]
    return OutcomeHistogram(
        rules=tuple(result.rule_names),
        dims=dims,
        frame=grouped.select(*BITS, *dims, "n"),
        criteria_hash=result.criteria_hash,
        index_date=result.index_date.isoformat(),
        data_snapshot=result.data_snapshot,
        code_rows=dict(result.code_rows),
        not_provided=tuple(sorted(getattr(result, "not_provided", ()))),
        sketches=sketches,
    )


def pack_sketches(sketches: Sequence[bytes]) -> bytes:
    """Row sketches as one blob: a count, then each sketch's length and its values.

    >>> unpack_sketches(pack_sketches([b"\\x01" * 8, b""])) == [b"\\x01" * 8, b""]
    True
    """
    parts = [struct.pack("<I", len(sketches))]
    for sketch in sketches:
        parts += [struct.pack("<I", len(sketch)), sketch]
    return b"".join(parts)


def unpack_sketches(blob: bytes) -> list[bytes]:
    (count,), at, out = struct.unpack_from("<I", blob), 4, []
    for _ in range(count):
        (size,) = struct.unpack_from("<I", blob, at)
        out.append(bytes(blob[at + 4 : at + 4 + size]))
        at += 4 + size
    return out


def _mask(rules: Sequence[str], chosen: Sequence[str]) -> int:
    return sum(1 << i for i, n in enumerate(rules) if n in set(chosen))


def query_sketches(
    histogram: OutcomeHistogram, steps: Sequence[str], active: Sequence[str]
) -> dict[str, bytes]:
    """The sketch of the set behind every count of the query (cell names as in the ledger,
    as :func:`matcher.feasibility.sketches.study_sketches` names them), merged from the row
    sketches.
    """
    if histogram.sketches is None:
        raise MatcherError("this run kept no sketches (not a sponsor's run)")
    frame = histogram.frame.with_row_index("__row")
    sketches = histogram.sketches
    bits, unknown = pl.col("rule_bits"), pl.col("unknown_bits")

    def lit(mask: int) -> pl.Expr:
        return pl.lit(mask, dtype=pl.UInt64)

    def merged(condition: pl.Expr) -> bytes:
        rows = frame.filter(condition)["__row"].to_list()
        values = [np.frombuffer(sketches[i], dtype="<u8") for i in rows]
        return bottom_k(np.concatenate(values) if values else np.empty(0, dtype=np.uint64))

    all_active = _mask(histogram.rules, active)
    ok = (bits & lit(all_active)) == 0
    has_unknown = (unknown & lit(all_active)) != 0
    eligible = ok & ~has_unknown
    out = {
        "base": merged(pl.lit(True)),
        "eligible": merged(eligible),
        "possibly_eligible": merged(ok & has_unknown),
    }
    applied = 0
    for i, name in enumerate(steps, start=1):
        bit = _mask(histogram.rules, [name])
        applied |= bit
        out["remaining:" + "+".join(sorted(steps[:i]))] = merged((bits & lit(applied)) == 0)
        out[f"excluded_alone:{name}"] = merged((bits & lit(all_active)) == lit(bit))
    dims = histogram.dims
    for name in breakdown_names(dims) if dims else ():
        parts = name.split(SEP)
        cell = pl.concat_str([pl.col(p) for p in parts], separator=SEP)
        categories = {d: sorted(frame[d].unique().to_list()) for d in parts}
        if len(parts) == 1:
            every = categories[parts[0]]
        else:
            every = [f"{a}{SEP}{b}" for a in categories[parts[0]] for b in categories[parts[1]]]
        for c in every:
            out[f"breakdown:{name}={c}"] = merged(eligible & (cell == c))
    return out


class LedgerRunHistogram(SQLModel, table=True):
    """A run's histogram and row sketches, in the ledger's database with its release."""

    __tablename__ = "ledger_run_histogram"

    run_key: str = Field(primary_key=True, max_length=200)
    histogram_json: str = Field(sa_column=Column(Text, nullable=False))
    sketches: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def ensure_histogram_table(ledger: Any) -> None:
    """Create ``ledger_run_histogram`` in the ledger's database when it is not there yet."""
    table = LedgerRunHistogram.__table__  # type: ignore[attr-defined]
    SQLModel.metadata.create_all(ledger.engine, tables=[table], checkfirst=True)


def store_in_ledger(session: Session, key: str, histogram: OutcomeHistogram) -> None:
    """Add the histogram of run ``key`` to ``session`` (the ledger transaction of its release)."""
    blob = pack_sketches(histogram.sketches) if histogram.sketches is not None else None
    session.add(LedgerRunHistogram(run_key=key, histogram_json=histogram.to_json(), sketches=blob))
    session.flush()


def ledger_histogram(ledger: Any, key: str) -> OutcomeHistogram | None:
    """The histogram (with its row sketches, when kept) stored for run ``key``, or ``None``."""
    with Session(ledger.engine) as session:
        row = session.get(LedgerRunHistogram, key)
        if row is None:
            return None
        sketches = unpack_sketches(bytes(row.sketches)) if row.sketches is not None else None
        return OutcomeHistogram.from_json(row.histogram_json, sketches)


__all__ = [
    "LedgerRunHistogram",
    "OutcomeHistogram",
    "ensure_histogram_table",
    "ledger_histogram",
    "outcome_histogram",
    "pack_sketches",
    "query_sketches",
    "store_in_ledger",
    "unpack_sketches",
]
