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
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import NoResultFound, SQLAlchemyError
from sqlmodel import Session, select

from matcher.disclosure import chain
from matcher.disclosure.policy import DisclosurePolicy
from matcher.disclosure.release import RawFeasibility, ReleasedFeasibility
from matcher.disclosure.sticky import SKETCH_SECRET_ENV, LedgerSecret
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
from matcher.disclosure.transaction import (
    BudgetExceededError,
    FreezeTriggered,
    LedgerTransaction,
    NotStewardError,
    QueryFrozenError,
    touch_requester,
)
from matcher.errors import MatcherError

__all__ = [
    "DEFAULT_LEDGER",
    "LEDGER_ENV",
    "LEDGER_TABLES",
    "BudgetExceededError",
    "Ledger",
    "LedgerError",
    "LedgerTransaction",
    "NotStewardError",
    "QueryFrozenError",
    "ledger_url",
]


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
            row = touch_requester(session, requester, now)
            if not row.frozen:
                raise MatcherError(f"unfreeze: requester {requester!r} is not frozen")
            row.frozen, row.unfrozen_at, row.unfrozen_by = False, now, by
            session.add(row)
            chain.append(session, kind="unfreeze", ref=requester, now=now, body={"by": by})

    def _freeze(self, requester: str, reason: str, now: datetime) -> None:
        with self._session(write=True) as session:
            row = touch_requester(session, requester, now)
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
        freeze: FreezeTriggered | None = None
        try:
            with self._session(write=True) as session:
                chain.lock_head(session)  # a write first: SQLite serialises the transaction
                chain.quick_check(session, self.where)
                yield LedgerTransaction(self, session, now)
        except FreezeTriggered as exc:
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
