"""One run's releases inside the ledger: budget, freeze, sticky answers, records.

:class:`LedgerTransaction` is what :meth:`matcher.disclosure.ledger.Ledger.transaction`
yields: every check and record of a run happens in its one database transaction, committed
when the caller's block ends (after the output is written). See ``ledger.py`` for the rules.

    >>> import pathlib, tempfile
    >>> from matcher.disclosure import DisclosurePolicy, RawFeasibility
    >>> from matcher.disclosure.ledger import Ledger
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ledger.sqlite"
    >>> ledger = Ledger.init(path, DisclosurePolicy(), stewards=["sam"], created_by="sam")
    >>> raw = RawFeasibility(base=100, eligible=42, possibly_eligible=0)
    >>> with ledger.transaction() as txn:
    ...     out = txn.release(raw, requester="ana", role="sponsor", study_id="S",
    ...                       criteria_hash="h", data_snapshot="d")
    ...     len(ledger.queries())  # not committed yet
    0
    >>> out.counts["eligible"], len(ledger.queries())
    (40, 1)
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, update
from sqlmodel import Session, select

from matcher.disclosure import chain
from matcher.disclosure.policy import check_role
from matcher.disclosure.release import RawFeasibility, ReleasedFeasibility, release_feasibility
from matcher.disclosure.sticky import (
    LedgerSketch,
    Match,
    cluster_hits,
    find_matches,
    record_sketches,
)
from matcher.disclosure.store import LedgerQuery, LedgerRelease, LedgerRequester
from matcher.errors import MatcherError

if TYPE_CHECKING:
    from matcher.disclosure.ledger import Ledger


STEWARD_RUNS = {
    "evaluate": "p4dp evaluate",
    "candidates": "p4dp candidates (lists of patients)",
}
"""The steward-only runs recorded with exact counts, and the action named when refused."""


class BudgetExceededError(MatcherError):
    """The requester used up their query budget for the current window."""


class QueryFrozenError(MatcherError):
    """The requester is frozen (repeated results) until a steward unfreezes them."""


class NotStewardError(MatcherError):
    """A steward-only action asked by an account that is not a steward of this ledger."""


class FreezeTriggered(Exception):
    """Raised inside a transaction: roll back the run, then record the freeze alone."""

    def __init__(self, requester: str, reason: str) -> None:
        super().__init__(reason)
        self.requester, self.reason = requester, reason


def touch_requester(session: Session, requester: str, now: datetime) -> LedgerRequester:
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
        return self._check(touch_requester(self.session, requester, self.now))

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
        row = touch_requester(session, requester, self.now)
        matches: dict[str, Match] = {}
        if role == "sponsor":
            self._check(row)
            matches = find_matches(session, raw)
            seen = self._repeats(row, raw, matches)
            if seen is not None and seen + 1 >= policy.repeat_alert:
                raise FreezeTriggered(
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
        self.record_steward_run(
            "evaluate", operator=operator, study_id=study_id, criteria_hash=criteria_hash,
            data_snapshot=data_snapshot, counts=counts, view=f"per-patient output {output}",
        )  # fmt: skip

    def record_steward_run(
        self,
        kind: str,
        *,
        operator: str,
        study_id: str,
        criteria_hash: str,
        data_snapshot: str,
        counts: dict[str, int],
        view: str,
    ) -> None:
        """Record a steward's exact, patient-level run: ``evaluate`` (per-patient results) or
        ``candidates`` (an issuance of candidate lists; ``view`` names the list ids). Each of
        ``counts`` is recorded as a release ``<kind>:<name>``; never a patient or a token."""
        self.ledger.require_steward(operator, STEWARD_RUNS[kind])
        touch_requester(self.session, operator, self.now)
        records = [(f"{kind}:{k}", n) for k, n in counts.items()]
        query = LedgerQuery(
            id=uuid.uuid4().hex,
            kind=kind,
            requester=operator,
            operator=operator,
            role="steward",
            study_id=study_id,
            criteria_hash=criteria_hash,
            data_snapshot=data_snapshot,
            eligible_true=counts.get("eligible", 0),
            policy="{}",
            view=view,
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
