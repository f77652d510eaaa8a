"""The query ledger: the platform's policy, its stewards, every release, a budget, a freeze.

A ledger is created once by a steward (:meth:`Ledger.init`, ``p4dp ledger init``) with the
platform's **disclosure policy** (threshold, rounding, noise, budget, repeat alert) and its
**stewards** (platform accounts allowed exact counts); both live in the ledger's hash chain
(:mod:`matcher.disclosure.chain`) and change only through a steward
(:meth:`Ledger.set_policy`, :meth:`Ledger.add_steward`). A request cannot change the policy.

Every request that releases counts is one *query* (``ledger_query``: requester, operator,
role, study, criteria hash, data snapshot, the policy applied, time in UTC) with one row per
count released (``ledger_release``: true count, released value). Releases are recorded in one
transaction per run (:meth:`Ledger.transaction`), committed only once the caller has written
its output; a failed or killed run records nothing. Inside it, for a sponsor:

* a frozen requester is refused (:class:`QueryFrozenError`) until a steward unfreezes them;
* a requester who already ran ``policy.budget`` queries in the last ``policy.budget_days``
  days is refused (:class:`BudgetExceededError`); the budget counts requests, not cells;
* **sticky answers** (:mod:`matcher.disclosure.sticky`): a count whose patient set is
  near-identical to a set already released, to anyone, gets the value released then;
* **repeat alert**: if the eligible set's cluster of near-identical sets (with sketches), or
  else the eligible true count (at or above the threshold), already came back
  ``policy.repeat_alert - 1`` times to this requester in ``policy.repeat_days`` days, whatever
  the criteria or the view options, the requester is frozen and nothing of the run released.

Steward requests are recorded (role ``steward``, exact values) but neither budgeted nor frozen.
SQLite or PostgreSQL (only portable SQL); engines are made by a factory, never at import.

    >>> import tempfile, pathlib
    >>> from matcher.disclosure.release import RawFeasibility
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite"
    >>> ledger = Ledger.init(path, DisclosurePolicy(), stewards=["sam"], created_by="sam")
    >>> oct(path.stat().st_mode & 0o777)
    '0o600'
    >>> raw = RawFeasibility(base=100, eligible=42, possibly_eligible=0)
    >>> ledger.release(raw, requester="ana", role="sponsor", study_id="S1",
    ...                criteria_hash="abc", data_snapshot="2024-06").counts["eligible"]
    40
    >>> ledger.check_budget("ana"), ledger.verify().ok
    (49, True)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, update
from sqlalchemy.exc import NoResultFound, SQLAlchemyError
from sqlmodel import Session, select

from matcher.disclosure import chain
from matcher.disclosure.policy import DisclosurePolicy, check_role
from matcher.disclosure.release import RawFeasibility, ReleasedFeasibility, release_feasibility
from matcher.disclosure.sticky import (
    SKETCH_SECRET_ENV,
    LedgerSecret,
    LedgerSketch,
    Match,
    cluster_hits,
    find_matches,
    record_sketches,
)
from matcher.disclosure.store import (
    DEFAULT_LEDGER,
    LEDGER_ENV,
    LEDGER_TABLES,
    LedgerChain,
    LedgerError,
    LedgerQuery,
    LedgerRelease,
    LedgerRequester,
    create_ledger_engine,
    ledger_url,
    open_ledger_engine,
    shown_url,
)
from matcher.errors import MatcherError

__all__ = [
    "DEFAULT_LEDGER",
    "LEDGER_ENV",
    "LEDGER_TABLES",
    "BudgetExceededError",
    "Ledger",
    "LedgerError",
    "QueryFrozenError",
    "ledger_url",
]


class BudgetExceededError(MatcherError):
    """The requester used up their query budget for the current window."""


class QueryFrozenError(MatcherError):
    """The requester is frozen (repeated results) until a steward unfreezes them."""


class NotStewardError(MatcherError):
    """A steward-only action asked by an account that is not a steward of this ledger."""


class _FreezeNow(Exception):
    """Raised inside a transaction: roll back the run, then record the freeze alone."""

    def __init__(self, requester: str, reason: str) -> None:
        super().__init__(reason)
        self.requester, self.reason = requester, reason


def _utc(now: datetime | None) -> datetime:
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise MatcherError("ledger times must carry a time zone (use UTC)")
    return now.astimezone(UTC)


class Ledger:
    """The query ledger over one SQLAlchemy engine (see the module docstring)."""

    def __init__(self, engine: Engine, *, where: str | None = None) -> None:
        self.engine = engine
        self.where = where or shown_url(str(engine.url))
        self._load()

    # -- creation and configuration ----------------------------------------------------
    @classmethod
    def init(
        cls,
        location: str | os.PathLike[str] | None,
        policy: DisclosurePolicy,
        *,
        stewards: Sequence[str],
        created_by: str,
        now: datetime | None = None,
    ) -> Ledger:
        """Create a ledger (refused if it exists) with its policy, stewards and secret."""
        names = sorted({s.strip() for s in stewards if s.strip()})
        if not names:
            raise MatcherError("ledger init: name at least one steward")
        engine = create_ledger_engine(location)
        secret = secrets.token_bytes(32)
        body = {
            "policy": policy.to_dict(),
            "stewards": names,
            "created_by": created_by,
            "sketch_secret_sha256": chain.sha256(secret),
        }
        with Session(engine) as session, session.begin():
            session.add(LedgerSecret(name="sketch", value=secret))
            chain.append(session, kind="init", ref="", now=_utc(now), body=body)
        return cls(engine)

    @classmethod
    def open(cls, location: str | os.PathLike[str] | None = None) -> Ledger:
        """Open an existing ledger (path or URL); a missing one is a :class:`LedgerError`."""
        engine = open_ledger_engine(location)
        return cls(engine, where=shown_url(ledger_url(location)))

    def _load(self) -> None:
        """Read the policy and the stewards from the chain (after the cheap integrity check)."""
        policy: DisclosurePolicy | None = None
        stewards: set[str] = set()
        with self._session() as session:
            chain.quick_check(session, self.where)
            kinds = ("init", "policy", "steward")
            stmt = select(LedgerChain).where(LedgerChain.kind.in_(kinds)).order_by(LedgerChain.seq)
            for link in session.exec(stmt):
                body = json.loads(link.body)
                if "policy" in body:
                    policy = DisclosurePolicy.from_dict(body["policy"])
                stewards |= set(body.get("stewards", ()))
                stewards -= set(body.get("removed", ()))
        if policy is None:
            raise LedgerError(f"ledger {self.where}: {chain.TAMPERED} (its creation link is gone)")
        self.policy, self.stewards = policy, frozenset(stewards)

    @contextlib.contextmanager
    def _session(self, write: bool = False) -> Iterator[Session]:
        """A session whose database errors and vanished rows become one clear message."""
        try:
            with Session(self.engine) as session:
                if write:
                    with session.begin():
                        yield session
                else:
                    yield session
        except NoResultFound:
            raise LedgerError(
                f"ledger {self.where}: {chain.TAMPERED} (a row it refers to is gone); "
                "run p4dp ledger verify"
            ) from None
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"ledger {self.where}: database error ({type(exc).__name__})"
            ) from None

    def require_steward(self, who: str, action: str) -> None:
        """Raise :class:`NotStewardError` unless ``who`` is a steward of this ledger."""
        if who not in self.stewards:
            raise NotStewardError(
                f"{action}: the account {who!r} is not a steward of ledger {self.where} "
                "(a steward adds one with: p4dp ledger steward NAME)"
            )

    def set_policy(self, policy: DisclosurePolicy, *, by: str, now: datetime | None = None) -> None:
        """Replace the platform's disclosure policy (a steward only; recorded in the chain)."""
        self.require_steward(by, "ledger policy")
        with self._session(write=True) as session:
            chain.quick_check(session, self.where)
            body = {"policy": policy.to_dict(), "by": by}
            chain.append(session, kind="policy", ref="", now=_utc(now), body=body)
        self._load()

    def add_steward(self, name: str, *, by: str, now: datetime | None = None) -> None:
        """Make the platform account ``name`` a steward (a steward only; recorded)."""
        self.require_steward(by, "ledger steward")
        if not name.strip():
            raise MatcherError("ledger steward: give an account name")
        with self._session(write=True) as session:
            chain.quick_check(session, self.where)
            body = {"stewards": [name.strip()], "by": by}
            chain.append(session, kind="steward", ref=name.strip(), now=_utc(now), body=body)
        self._load()

    def verify(self) -> chain.VerifyReport:
        """Recompute the hash chain over every row (``p4dp ledger verify``)."""
        return _verify(self.engine, self.where)

    def sketch_secret(self) -> bytes:
        """The secret keying the patient-set sketches (``$P4DP_SKETCH_SECRET`` or this
        ledger's own); give it to :func:`matcher.feasibility.build_raw`. Never show it."""
        env = os.environ.get(SKETCH_SECRET_ENV, "")
        if env:
            return env.encode()
        with self._session() as session:
            row = session.get(LedgerSecret, "sketch")
        if row is None:
            raise LedgerError(f"ledger {self.where}: {chain.TAMPERED} (its sketch secret is gone)")
        return bytes(row.value)

    # -- budget and freeze -------------------------------------------------------------
    def check_budget(self, requester: str, now: datetime | None = None) -> int:
        """Requests the sponsor ``requester`` may still run now; raise if frozen or none left."""
        with self.transaction(now) as txn:
            return txn.budget_left(requester)

    def is_frozen(self, requester: str) -> bool:
        with self._session() as session:
            row = session.get(LedgerRequester, requester)
            return bool(row and row.frozen)

    def unfreeze(self, requester: str, *, by: str, now: datetime | None = None) -> None:
        """Lift a freeze; ``by`` must be a steward (recorded). Repeats before now are forgiven."""
        if not by or by == requester:
            raise MatcherError(
                "unfreeze: name the steward who lifts the freeze (not the requester)"
            )
        self.require_steward(by, "unfreeze")
        now = _utc(now)
        with self._session(write=True) as session:
            chain.quick_check(session, self.where)
            row = _touch(session, requester, now)
            if not row.frozen:
                raise MatcherError(f"unfreeze: requester {requester!r} is not frozen")
            row.frozen, row.unfrozen_at, row.unfrozen_by = False, now, by
            session.add(row)
            chain.append(session, kind="unfreeze", ref=requester, now=now, body={"by": by})

    def _freeze(self, requester: str, reason: str, now: datetime) -> None:
        with self._session(write=True) as session:
            row = _touch(session, requester, now)
            row.frozen, row.frozen_at, row.frozen_reason = True, now, reason
            session.add(row)
            chain.append(session, kind="freeze", ref=requester, now=now, body={"reason": reason})

    # -- releasing ---------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, now: datetime | None = None) -> Iterator[LedgerTransaction]:
        """One run's releases, committed together when the ``with`` block ends without error.

        Write the output inside the block: a failure (or a kill) before its end records
        nothing. A freeze triggered inside rolls the run back, records the freeze alone and
        raises :class:`QueryFrozenError`.
        """
        now = _utc(now)
        freeze: _FreezeNow | None = None
        try:
            with self._session(write=True) as session:
                chain.lock_head(session)  # a write first: SQLite serialises the transaction
                chain.quick_check(session, self.where)
                yield LedgerTransaction(self, session, now)
        except _FreezeNow as exc:
            freeze = exc
        if freeze is not None:
            self._freeze(freeze.requester, freeze.reason, now)
            raise QueryFrozenError(
                f"requester {freeze.requester!r} is now frozen: {freeze.reason} (a differencing "
                "or averaging pattern); nothing of this run was released or recorded; "
                "a steward must unfreeze them"
            )

    def release(
        self,
        raw: RawFeasibility,
        *,
        requester: str,
        role: str,
        study_id: str,
        criteria_hash: str,
        data_snapshot: str,
        operator: str = "",
        now: datetime | None = None,
    ) -> ReleasedFeasibility:
        """Check, release and record one feasibility request, in one transaction."""
        with self.transaction(now) as txn:
            return txn.release(
                raw,
                requester=requester,
                role=role,
                study_id=study_id,
                criteria_hash=criteria_hash,
                data_snapshot=data_snapshot,
                operator=operator,
            )

    # -- reading -----------------------------------------------------------------------
    def releases(self, requester: str | None = None) -> list[LedgerRelease]:
        """Released counts, oldest first (all requesters when ``requester`` is None)."""
        with self._session() as session:
            stmt = select(LedgerRelease).order_by(LedgerRelease.id)
            if requester is not None:
                stmt = stmt.where(LedgerRelease.requester == requester)
            return list(session.exec(stmt).all())

    def queries(self, requester: str | None = None) -> list[LedgerQuery]:
        """Requests, oldest first."""
        with self._session() as session:
            stmt = select(LedgerQuery).order_by(LedgerQuery.created_at)
            if requester is not None:
                stmt = stmt.where(LedgerQuery.requester == requester)
            return list(session.exec(stmt).all())


def _verify(engine: Engine, where: str) -> chain.VerifyReport:
    try:
        return chain.verify(engine)
    except SQLAlchemyError as exc:
        raise LedgerError(f"ledger {where}: database error ({type(exc).__name__})") from None


def verify_ledger(location: str | os.PathLike[str] | None) -> tuple[str, chain.VerifyReport]:
    """Verify the ledger at ``location`` without trusting it first (it may be damaged):
    its name for messages and the report."""
    where = shown_url(ledger_url(location))
    return where, _verify(open_ledger_engine(location), where)


def _touch(session: Session, requester: str, now: datetime) -> LedgerRequester:
    """Lock the requester's row (a write first, so SQLite serialises the transaction)."""
    stmt = update(LedgerRequester).where(LedgerRequester.requester == requester)
    result = session.connection().execute(stmt.values(last_seen=now))
    if result.rowcount == 0:
        session.add(LedgerRequester(requester=requester, last_seen=now))
        session.flush()
    row = session.get(LedgerRequester, requester, populate_existing=True)
    assert row is not None
    return row


class LedgerTransaction:
    """The releases of one run, inside :meth:`Ledger.transaction`."""

    def __init__(self, ledger: Ledger, session: Session, now: datetime) -> None:
        self.ledger, self.session, self.now = ledger, session, now
        self.policy = ledger.policy

    def budget_left(self, requester: str) -> int:
        """Requests ``requester`` may still run; raise if frozen or none is left."""
        return self._check(_touch(self.session, requester, self.now))

    def _check(self, row: LedgerRequester) -> int:
        if row.frozen:
            raise QueryFrozenError(
                f"requester {row.requester!r} is frozen since {row.frozen_at:%Y-%m-%d %H:%M} UTC "
                f"({row.frozen_reason}); a steward must unfreeze them"
            )
        since = self.now - timedelta(days=self.policy.budget_days)
        stmt = select(func.count(), func.min(LedgerQuery.created_at)).where(
            LedgerQuery.requester == row.requester,
            LedgerQuery.role == "sponsor",
            LedgerQuery.created_at > since,
        )
        used, oldest = self.session.exec(stmt).one()
        if used >= self.policy.budget:
            retry = oldest + timedelta(days=self.policy.budget_days)
            raise BudgetExceededError(
                f"requester {row.requester!r} used {used} of {self.policy.budget} feasibility "
                f"requests allowed per {self.policy.budget_days} days; the next one is possible "
                f"after {retry:%Y-%m-%d %H:%M} UTC (or ask a steward)"
            )
        return self.policy.budget - used

    def _repeats(
        self, row: LedgerRequester, raw: RawFeasibility, matches: dict[str, Match]
    ) -> int | None:
        """Earlier repeats of this result (None: this result does not count as a repeat).

        With a sketch of the eligible set: the requester's requests whose eligible set was in
        the same cluster of near-identical sets (whatever its count), plus earlier requests
        *without* a sketch with the same true count. Without: equal true counts at or above
        the threshold.
        """
        session, policy = self.session, self.policy
        since = self.now - timedelta(days=policy.repeat_days)
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
            if raw.eligible >= policy.threshold:
                legacy = session.exec(stmt.where(LedgerQuery.id.not_in(sketched))).one()
            return hits + legacy
        if raw.eligible < policy.threshold:
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
        operator: str = "",
        view: str = "",
    ) -> ReleasedFeasibility:
        """Check, release and record one request (committed with the transaction)."""
        check_role(role)
        if not requester:
            raise MatcherError("a feasibility request needs a requester name")
        session, policy = self.session, self.policy
        row = _touch(session, requester, self.now)
        matches: dict[str, Match] = {}
        if role == "sponsor":
            self._check(row)
            matches = find_matches(session, raw)
            seen = self._repeats(row, raw, matches)
            if seen is not None and seen + 1 >= policy.repeat_alert:
                raise _FreezeNow(
                    requester,
                    f"the same result came back {seen + 1} times in {policy.repeat_days} days",
                )
        sticky = {cell: m.released for cell, m in matches.items()}
        released = release_feasibility(raw, policy, role, sticky=sticky)
        query = self._record(
            released,
            kind="count",
            requester=requester,
            operator=operator,
            role=role,
            study_id=study_id,
            criteria_hash=criteria_hash,
            data_snapshot=data_snapshot,
            view=view,
        )
        n_sketches = 0
        if role == "sponsor":
            n_sketches = record_sketches(
                session,
                query_id=query.id,
                requester=requester,
                raw=raw,
                cell_values=released.cell_values,
                matches=matches,
                now=self.now,
            )
        self._link(query, len(released.records), n_sketches)
        return released

    def record_evaluation(
        self,
        *,
        operator: str,
        study_id: str,
        criteria_hash: str,
        data_snapshot: str,
        counts: dict[str, int],
        output: str,
    ) -> None:
        """Record a steward's per-patient evaluation (exact, not budgeted)."""
        self.ledger.require_steward(operator, "p4dp evaluate")
        _touch(self.session, operator, self.now)
        records = [(f"evaluate:{k}", n) for k, n in counts.items()]
        query = LedgerQuery(
            id=uuid.uuid4().hex,
            kind="evaluate",
            requester=operator,
            operator=operator,
            role="steward",
            study_id=study_id,
            criteria_hash=criteria_hash,
            data_snapshot=data_snapshot,
            eligible_true=counts.get("eligible", 0),
            policy="{}",
            view=f"per-patient output {output}",
            created_at=self.now,
        )
        self.session.add(query)
        for what, n in records:
            self.session.add(self._release_row(query, what, n, n))
        self.session.flush()
        self._link(query, len(records), 0)

    def _release_row(self, query: LedgerQuery, what: str, true: int, shown) -> LedgerRelease:
        return LedgerRelease(
            query_id=query.id,
            requester=query.requester,
            role=query.role,
            study_id=query.study_id,
            criteria_hash=query.criteria_hash,
            data_snapshot=query.data_snapshot,
            what=what,
            true_count=true,
            released=json.dumps(shown),
            released_at=self.now,
        )

    def _record(self, released: ReleasedFeasibility, *, kind: str, **fields) -> LedgerQuery:
        query = LedgerQuery(
            id=uuid.uuid4().hex,
            kind=kind,
            eligible_true=released.true_eligible,
            policy=chain.canonical(self.policy.to_dict()),
            created_at=self.now,
            **fields,
        )
        self.session.add(query)
        for rec in released.records:
            self.session.add(self._release_row(query, rec.what, rec.true_count, rec.released))
        self.session.flush()  # the query row exists before sketches refer to it
        return query

    def _link(self, query: LedgerQuery, n_releases: int, n_sketches: int) -> None:
        """Chain the query with all its rows (read back, as ``verify`` will read them)."""
        session = self.session
        session.flush()
        releases = list(
            session.exec(select(LedgerRelease).where(LedgerRelease.query_id == query.id))
        )
        sketches = list(session.exec(select(LedgerSketch).where(LedgerSketch.query_id == query.id)))
        chain.append(
            session,
            kind="query",
            ref=query.id,
            now=self.now,
            content=chain.query_content(query, releases, sketches),
            rows={"ledger_query": 1, "ledger_release": n_releases, "ledger_sketch": n_sketches},
        )
