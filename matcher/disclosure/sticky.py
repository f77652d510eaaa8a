"""Sticky answers: a near-identical patient set gets the numbers already released for it.

For every count a sponsor is shown, the ledger keeps the keyed similarity sketch of the patient
set behind it (:mod:`matcher.disclosure.sketch`) in ``ledger_sketch``, with its true count,
the value released and the *root* of its cluster (the first release of a near-identical
set). A new count whose set's sketch differs from a stored one by at most
``MAX_DIFFERENCE`` (always the case for two sets differing by one patient) is released with
the root's value, whoever asked before (colluding sponsors share one history). A pair of
queries ``S`` / ``S ∪ {t}`` therefore gets the same answer whether ``t`` is in the data or not.

The hashing secret is ``$P4DP_SKETCH_SECRET`` or, when unset, a random 32-byte secret created
with the ledger (``ledger_secret``, by ``p4dp ledger init``). Sketches and the secret stay in
the ledger database: they are never shown, logged or written to an output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, LargeBinary, or_
from sqlmodel import Field, Session, SQLModel, func, select

from matcher.disclosure.release import RawFeasibility
from matcher.disclosure.rounding import Released
from matcher.disclosure.sketch import MAX_DIFFERENCE, difference_window, sketch_difference

SKETCH_SECRET_ENV = "P4DP_SKETCH_SECRET"


class LedgerSketch(SQLModel, table=True):
    """The sketch of one released count's patient set (never shown outside the ledger)."""

    __tablename__ = "ledger_sketch"
    id: int | None = Field(default=None, primary_key=True)
    query_id: str = Field(foreign_key="ledger_query.id", index=True)
    requester: str = Field(index=True)
    cell: str
    true_count: int = Field(index=True)
    released: str  # JSON: a number or the masked label
    root_id: int | None = Field(default=None, index=True)  # None: this row is a root
    sketch: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = Field(index=True)


class LedgerSecret(SQLModel, table=True):
    """Per-ledger secrets (the sketch hashing secret when the platform gives none)."""

    __tablename__ = "ledger_secret"
    name: str = Field(primary_key=True)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


STICKY_TABLES = [LedgerSketch.__table__, LedgerSecret.__table__]


@dataclass(frozen=True)
class Match:
    """A stored near-identical set: its cluster's root row and the value released for it."""

    root_id: int
    released: Released
    difference: int


def cell_counts(raw: RawFeasibility) -> dict[str, int]:
    """The true count behind every cell name a sketch may be given for."""
    counts = {"base": raw.base, "eligible": raw.eligible}
    counts["possibly_eligible"] = raw.possibly_eligible
    so_far: list[str] = []
    for step in raw.attrition:
        so_far.append(step.rule)
        counts["remaining:" + "+".join(sorted(so_far))] = step.remaining
        counts[f"excluded_alone:{step.rule}"] = step.excluded_alone
    for dim, cells in raw.breakdowns.items():
        for category, n in cells.items():
            counts[f"breakdown:{dim}={category}"] = n
    return counts


def find_matches(session: Session, raw: RawFeasibility) -> dict[str, Match]:
    """For each sketched cell of ``raw``, the closest stored near-identical set, if any."""
    counts = cell_counts(raw)
    out: dict[str, Match] = {}
    for cell, sketch in raw.sketches.items():
        if cell not in counts:
            continue
        n = counts[cell]
        window = difference_window(n)
        stmt = select(LedgerSketch.id, LedgerSketch.root_id, LedgerSketch.sketch).where(
            LedgerSketch.true_count >= n - window, LedgerSketch.true_count <= n + window
        )
        best: tuple[int, int, int | None] | None = None
        for row_id, root_id, stored in session.exec(stmt):
            diff = sketch_difference(sketch, bytes(stored))
            if diff <= MAX_DIFFERENCE and (best is None or (diff, row_id) < best[:2]):
                best = (diff, row_id, root_id)
        if best is None:
            continue
        root = best[2] if best[2] is not None else best[1]
        released = session.exec(select(LedgerSketch.released).where(LedgerSketch.id == root))
        out[cell] = Match(root, json.loads(released.one()), best[0])
    return out


def record_sketches(
    session: Session,
    *,
    query_id: str,
    requester: str,
    raw: RawFeasibility,
    cell_values: Mapping[str, Released],
    matches: Mapping[str, Match],
    now: datetime,
) -> int:
    """Store the sketch of every released cell, attached to its cluster's root; return how
    many were stored."""
    counts = cell_counts(raw)
    stored = 0
    for cell, sketch in raw.sketches.items():
        if cell not in counts or cell not in cell_values:
            continue
        match = matches.get(cell)
        session.add(
            LedgerSketch(
                query_id=query_id,
                requester=requester,
                cell=cell,
                true_count=counts[cell],
                released=json.dumps(cell_values[cell]),
                root_id=match.root_id if match else None,
                sketch=sketch,
                created_at=now,
            )
        )
        stored += 1
    return stored


def cluster_hits(session: Session, requester: str, root_id: int, since: datetime) -> int:
    """How many of ``requester``'s requests since ``since`` had their eligible set in the
    cluster of ``root_id`` (the repeat alert's count when sketches are given)."""
    stmt = select(func.count()).where(
        LedgerSketch.requester == requester,
        LedgerSketch.cell == "eligible",
        or_(LedgerSketch.root_id == root_id, LedgerSketch.id == root_id),
        LedgerSketch.created_at > since,
    )
    return session.exec(stmt).one()
