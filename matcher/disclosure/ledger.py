"""The query ledger: one row per released count, a budget per requester, a freeze on repeats.

Every feasibility request that releases counts is one *query* (one row in ``ledger_query``)
and one row per count released (``ledger_release``: who, role, study, criteria hash, data
snapshot, what, true count, released value, time in UTC). Before a sponsor's request is
released, in the same transaction:

* a frozen requester is refused (:class:`QueryFrozenError`) until a steward unfreezes them;
* a requester who already ran ``policy.budget`` queries in the last ``policy.budget_days``
  days is refused (:class:`BudgetExceededError`); the budget counts requests, not cells;
* **sticky answers** (:mod:`matcher.disclosure.sticky`): every count whose patient set comes
  with a sketch (``RawFeasibility.sketches``) and is near-identical to a set already released
  to anyone gets the value released then, so ``S`` and ``S ∪ {t}`` get the same answer;
* **repeat alert**: if the eligible set's cluster of near-identical sets (with sketches), or
  else the eligible true count (at or above the threshold), already came back
  ``policy.repeat_alert - 1`` times to this requester in the last ``policy.repeat_days`` days,
  whatever the criteria, the requester is frozen and the request refused.

Steward requests are recorded (role ``steward``, exact values) but neither budgeted nor frozen.
The database is SQLite by default (``P4DP_LEDGER`` or ``~/.local/share/p4dp/ledger.sqlite``)
or any SQLAlchemy URL (PostgreSQL works: only portable SQL is used). Engines are created by
:func:`create_ledger_engine`, never at import. Times are timezone-aware UTC.

    >>> import tempfile, pathlib
    >>> from matcher.disclosure.release import RawFeasibility
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite"
    >>> ledger = Ledger.open(path)
    >>> raw = RawFeasibility(base=100, eligible=42, possibly_eligible=0)
    >>> ledger.release(raw, requester="ana", role="sponsor", study_id="S1",
    ...                criteria_hash="abc", data_snapshot="2024-06").counts["eligible"]
    40
    >>> ledger.check_budget("ana")
    49
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, update
from sqlmodel import Field, Session, SQLModel, create_engine, select

from matcher.disclosure.policy import DisclosurePolicy, check_role
from matcher.disclosure.release import RawFeasibility, ReleasedFeasibility, release_feasibility
from matcher.disclosure.sticky import (
    STICKY_TABLES,
    LedgerSketch,
    Match,
    cluster_hits,
    find_matches,
    record_sketches,
    sketch_secret,
)
from matcher.errors import MatcherError

DEFAULT_LEDGER = Path("~/.local/share/p4dp/ledger.sqlite")
LEDGER_ENV = "P4DP_LEDGER"


class BudgetExceededError(MatcherError):
    """The requester used up their query budget for the current window."""


class QueryFrozenError(MatcherError):
    """The requester is frozen (repeated results) until a steward unfreezes them."""


class LedgerRequester(SQLModel, table=True):
    """Per-requester state: frozen or not, and who unfroze them."""

    __tablename__ = "ledger_requester"
    requester: str = Field(primary_key=True)
    frozen: bool = False
    frozen_at: datetime | None = None
    frozen_reason: str | None = None
    unfrozen_at: datetime | None = None
    unfrozen_by: str | None = None
    last_seen: datetime | None = None


class LedgerQuery(SQLModel, table=True):
    """One feasibility request (the unit of the budget)."""

    __tablename__ = "ledger_query"
    id: str = Field(primary_key=True)
    requester: str = Field(index=True)
    role: str
    study_id: str
    criteria_hash: str
    data_snapshot: str
    eligible_true: int
    created_at: datetime = Field(index=True)


class LedgerRelease(SQLModel, table=True):
    """One released count."""

    __tablename__ = "ledger_release"
    id: int | None = Field(default=None, primary_key=True)
    query_id: str = Field(foreign_key="ledger_query.id", index=True)
    requester: str = Field(index=True)
    role: str
    study_id: str
    criteria_hash: str
    data_snapshot: str
    what: str
    true_count: int
    released: str  # JSON: a number or the masked label
    released_at: datetime


LEDGER_TABLES = [
    LedgerRequester.__table__,
    LedgerQuery.__table__,
    LedgerRelease.__table__,
    *STICKY_TABLES,
]


def ledger_url(location: str | os.PathLike[str] | None = None) -> str:
    """The SQLAlchemy URL of the ledger: ``location``, else ``$P4DP_LEDGER``, else the default.

    A value containing ``://`` is used as a URL; anything else is a SQLite file path.

    >>> ledger_url("postgresql+psycopg://db/p4dp")
    'postgresql+psycopg://db/p4dp'
    >>> ledger_url("/tmp/x.sqlite")
    'sqlite:////tmp/x.sqlite'
    """
    value = str(location) if location is not None else os.environ.get(LEDGER_ENV, "")
    if "://" in value:
        return value
    path = Path(value or DEFAULT_LEDGER).expanduser().resolve()
    return f"sqlite:///{path}"


def create_ledger_engine(location: str | os.PathLike[str] | None = None) -> Engine:
    """Create the ledger engine and its tables (SQLite: the parent folder too)."""
    url = ledger_url(location)
    connect_args: dict[str, object] = {}
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 30}
    engine = create_engine(url, connect_args=connect_args)
    SQLModel.metadata.create_all(engine, tables=LEDGER_TABLES)
    return engine


def _utc(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise MatcherError("ledger times must carry a time zone (use UTC)")
    return now.astimezone(UTC)


class Ledger:
    """The query ledger over one SQLAlchemy engine (see the module docstring)."""

    def __init__(self, engine: Engine, policy: DisclosurePolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or DisclosurePolicy()

    @classmethod
    def open(
        cls, location: str | os.PathLike[str] | None = None, policy: DisclosurePolicy | None = None
    ) -> Ledger:
        """Open (creating if needed) the ledger at ``location`` (path or URL)."""
        return cls(create_ledger_engine(location), policy)

    # -- state -------------------------------------------------------------------------
    def _touch(self, session: Session, requester: str, now: datetime) -> LedgerRequester:
        """Lock the requester's row (a write first, so SQLite serialises the transaction)."""
        stmt = update(LedgerRequester).where(LedgerRequester.requester == requester)
        result = session.connection().execute(stmt.values(last_seen=now))
        if result.rowcount == 0:
            session.add(LedgerRequester(requester=requester, last_seen=now))
            session.flush()
        row = session.get(LedgerRequester, requester, populate_existing=True)
        assert row is not None
        return row

    def _check(self, session: Session, row: LedgerRequester, now: datetime) -> int:
        if row.frozen:
            raise QueryFrozenError(
                f"requester {row.requester!r} is frozen since {row.frozen_at:%Y-%m-%d %H:%M} UTC "
                f"({row.frozen_reason}); a steward must unfreeze them"
            )
        since = now - timedelta(days=self.policy.budget_days)
        stmt = select(func.count(), func.min(LedgerQuery.created_at)).where(
            LedgerQuery.requester == row.requester,
            LedgerQuery.role == "sponsor",
            LedgerQuery.created_at > since,
        )
        used, oldest = session.exec(stmt).one()
        if used >= self.policy.budget:
            retry = oldest + timedelta(days=self.policy.budget_days)
            raise BudgetExceededError(
                f"requester {row.requester!r} used {used} of {self.policy.budget} feasibility "
                f"requests allowed per {self.policy.budget_days} days; the next one is possible "
                f"after {retry:%Y-%m-%d %H:%M} UTC (or ask a steward)"
            )
        return self.policy.budget - used

    def check_budget(self, requester: str, now: datetime | None = None) -> int:
        """Requests the sponsor ``requester`` may still run now; raise if frozen or none left."""
        now = _utc(now)
        with Session(self.engine) as session, session.begin():
            return self._check(session, self._touch(session, requester, now), now)

    def is_frozen(self, requester: str) -> bool:
        with Session(self.engine) as session:
            row = session.get(LedgerRequester, requester)
            return bool(row and row.frozen)

    def unfreeze(self, requester: str, *, by: str, now: datetime | None = None) -> None:
        """Lift a freeze; ``by`` names the steward (recorded). Repeats before now are forgiven."""
        if not by or by == requester:
            raise MatcherError(
                "unfreeze: name the steward who lifts the freeze (not the requester)"
            )
        now = _utc(now)
        with Session(self.engine) as session, session.begin():
            row = self._touch(session, requester, now)
            if not row.frozen:
                raise MatcherError(f"unfreeze: requester {requester!r} is not frozen")
            row.frozen, row.unfrozen_at, row.unfrozen_by = False, now, by
            session.add(row)

    def sketch_secret(self) -> bytes:
        """The secret keying the patient-set sketches (``$P4DP_SKETCH_SECRET`` or this
        ledger's own); give it to :func:`matcher.feasibility.build_raw`. Never show it."""
        return sketch_secret(self.engine)

    # -- releasing ---------------------------------------------------------------------
    def _repeats(
        self,
        session: Session,
        row: LedgerRequester,
        raw: RawFeasibility,
        matches: dict[str, Match],
        now: datetime,
    ) -> int | None:
        """Earlier repeats of this result (None: this result does not count as a repeat).

        With a sketch of the eligible set: the requester's requests whose eligible set was in
        the same cluster of near-identical sets (whatever its count: the count of ``S ∪ {t}``
        must not decide it), plus earlier requests *without* a sketch with the same true count.
        Without: the legacy rule, equal true counts at or above the threshold.
        """
        since = now - timedelta(days=self.policy.repeat_days)
        if row.unfrozen_at is not None and row.unfrozen_at > since:
            since = row.unfrozen_at
        stmt = select(func.count()).where(
            LedgerQuery.requester == row.requester,
            LedgerQuery.role == "sponsor",
            LedgerQuery.eligible_true == raw.eligible,
            LedgerQuery.created_at > since,
        )
        if "eligible" in raw.sketches:
            match = matches.get("eligible")
            hits = cluster_hits(session, row.requester, match.root_id, since) if match else 0
            sketched = select(LedgerSketch.query_id).where(LedgerSketch.cell == "eligible")
            legacy = 0
            if raw.eligible >= self.policy.threshold:
                legacy = session.exec(stmt.where(LedgerQuery.id.not_in(sketched))).one()
            return hits + legacy
        if raw.eligible < self.policy.threshold:
            return None
        return session.exec(stmt).one()

    def release(
        self,
        raw: RawFeasibility,
        *,
        requester: str,
        role: str,
        study_id: str,
        criteria_hash: str,
        data_snapshot: str,
        now: datetime | None = None,
    ) -> ReleasedFeasibility:
        """Check, release and record one feasibility request, in one transaction."""
        check_role(role)
        if not requester:
            raise MatcherError("a feasibility request needs a requester name")
        now = _utc(now)
        frozen: str | None = None
        with Session(self.engine) as session, session.begin():
            row = self._touch(session, requester, now)
            matches: dict[str, Match] = {}
            if role == "sponsor":
                self._check(session, row, now)
                matches = find_matches(session, raw)
                seen = self._repeats(session, row, raw, matches, now)
                if seen is not None and seen + 1 >= self.policy.repeat_alert:
                    row.frozen, row.frozen_at = True, now
                    row.frozen_reason = (
                        f"the same result came back {seen + 1} times in "
                        f"{self.policy.repeat_days} days"
                    )
                    session.add(row)
                    frozen = row.frozen_reason
            sticky = {cell: m.released for cell, m in matches.items()}
            released = release_feasibility(raw, self.policy, role, sticky=sticky)
            if not frozen:
                query_id = self._record(
                    session, released, requester, role, study_id, criteria_hash, data_snapshot, now
                )
                if role == "sponsor":
                    record_sketches(
                        session,
                        query_id=query_id,
                        requester=requester,
                        raw=raw,
                        cell_values=released.cell_values,
                        matches=matches,
                        now=now,
                    )
        if frozen:
            raise QueryFrozenError(
                f"requester {requester!r} is now frozen: {frozen} "
                "(a differencing or averaging pattern); nothing was released; "
                "a steward must unfreeze them"
            )
        return released

    def _record(
        self,
        session: Session,
        released: ReleasedFeasibility,
        requester: str,
        role: str,
        study_id: str,
        criteria_hash: str,
        data_snapshot: str,
        now: datetime,
    ) -> str:
        query = LedgerQuery(
            id=uuid.uuid4().hex,
            requester=requester,
            role=role,
            study_id=study_id,
            criteria_hash=criteria_hash,
            data_snapshot=data_snapshot,
            eligible_true=released.true_eligible,
            created_at=now,
        )
        session.add(query)
        for rec in released.records:
            session.add(
                LedgerRelease(
                    query_id=query.id,
                    requester=requester,
                    role=role,
                    study_id=study_id,
                    criteria_hash=criteria_hash,
                    data_snapshot=data_snapshot,
                    what=rec.what,
                    true_count=rec.true_count,
                    released=json.dumps(rec.released),
                    released_at=now,
                )
            )
        session.flush()  # the query row exists before sketches refer to it
        return query.id

    # -- reading -----------------------------------------------------------------------
    def releases(self, requester: str | None = None) -> list[LedgerRelease]:
        """Released counts, oldest first (all requesters when ``requester`` is None)."""
        with Session(self.engine) as session:
            stmt = select(LedgerRelease).order_by(LedgerRelease.id)
            if requester is not None:
                stmt = stmt.where(LedgerRelease.requester == requester)
            return list(session.exec(stmt).all())

    def queries(self, requester: str | None = None) -> list[LedgerQuery]:
        """Feasibility requests, oldest first."""
        with Session(self.engine) as session:
            stmt = select(LedgerQuery).order_by(LedgerQuery.created_at)
            if requester is not None:
                stmt = stmt.where(LedgerQuery.requester == requester)
            return list(session.exec(stmt).all())
