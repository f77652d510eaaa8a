"""The durable feasibility-run queue: submit, claim, beat, finish, recover.

A run is a row of :class:`~matcher.services.run_store.FeasibilityRun`. Its life:

* :func:`submit_run` queues it (after :func:`check_run_budget` for a sponsor: the runs they
  already have queued count against the ledger's budget, so a sponsor beyond it is refused
  at once with :class:`RunBudgetError`, which carries ``retry_after`` seconds);
* :func:`claim_next` hands the oldest queued run to one worker, atomically: on SQLite inside
  ``BEGIN IMMEDIATE`` (one writer at a time), on PostgreSQL with ``SELECT ... FOR UPDATE SKIP
  LOCKED``; in both, the claim is a conditional ``UPDATE ... WHERE status = 'queued'`` whose
  row count must be 1, so two workers never run the same claim;
* the worker beats (:func:`beat`, with the phase and progress) while it counts, then
  :func:`finish_run` or :func:`fail_run`; both write only while the claim is still theirs;
* :func:`recover_stale` queues again a run whose heartbeat is older than ``stale_after`` (its
  worker died) while ``attempts < max_attempts``, else fails it with ``error_kind='stale'``
  and a reason: a run is never lost silently, and queued runs simply wait for the next worker
  after a restart.

The execution itself (:func:`execute_run`) is :func:`matcher.services.feasibility.run_feasibility`
(policy, budget, ledger, exactly as ``p4dp count``) and the result is stored as the text of
``p4dp count --format json``. Nothing is cached: each run counts on the data the worker holds.

    >>> from sqlmodel import create_engine
    >>> engine = create_engine("sqlite://")
    >>> create_run_tables(engine)
    >>> run = submit_run(engine, criteria="study S1", requester="ana")
    >>> claim = claim_next(engine, worker="w1")
    >>> (claim.run_id, claim.attempt) == (run.id, 1), claim_next(engine, worker="w2")
    (True, None)
    >>> finish_run(engine, claim, result_json="{}", notes=[], data_snapshot="s1")
    True
    >>> get_run(engine, run.id).status
    'done'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlmodel import Session

from matcher.disclosure.ledger import BudgetExceededError, Ledger
from matcher.errors import MatcherError
from matcher.services.persist import insert_detached
from matcher.services.run_store import (
    FINISHED,
    FeasibilityRun,
    RunHistogram,
    RunStatus,
    create_run_tables,
    utcnow,
)

__all__ = [
    "RunBudgetError",
    "RunClaim",
    "beat",
    "check_run_budget",
    "claim_next",
    "create_run_tables",
    "fail_run",
    "finish_run",
    "get_run",
    "recover_stale",
    "release_claims",
    "submit_run",
]

T = FeasibilityRun.__table__  # type: ignore[attr-defined]
OPTION_NAMES = frozenset(
    {"by", "order", "without", "index_date", "params", "threshold", "rounding"}
)


class RunBudgetError(BudgetExceededError):
    """A sponsor asked beyond the ledger's budget (counting their queued runs); the next
    request is possible in ``retry_after`` seconds (the HTTP answer is 429 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RunClaim:
    """One worker's hold on one run: the run, the worker's name and the attempt number."""

    run_id: int
    worker: str
    attempt: int


def _pending_sponsor_runs(engine: Engine, requester: str) -> int:
    stmt = select(func.count()).where(
        T.c.requester == requester,
        T.c.role == "sponsor",
        T.c.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value]),
    )
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def check_run_budget(engine: Engine, ledger: Ledger, *, requester: str, role: str) -> int:
    """Runs ``requester`` may still queue (stewards: not budgeted, a large number).

    Raises :class:`RunBudgetError` (with ``retry_after``) when the ledger's budget minus the
    requester's queued and running runs is spent, and the ledger's own refusals (frozen).
    """
    if role != "sponsor":
        return 1 << 30
    policy = ledger.policy
    pending = _pending_sponsor_runs(engine, requester)
    try:
        left = ledger.check_budget(requester)
    except BudgetExceededError as exc:
        raise RunBudgetError(str(exc), _retry_after(ledger, requester, pending)) from None
    if left - pending > 0:
        return left - pending
    raise RunBudgetError(
        f"requester {requester!r} may run {policy.budget} feasibility requests per "
        f"{policy.budget_days} days; {policy.budget - left} were run and {pending} are queued; "
        "nothing was queued",
        _retry_after(ledger, requester, pending),
    )


def _retry_after(ledger: Ledger, requester: str, pending: int) -> int:
    """Seconds until one request of the window expires, counting queued runs as run now."""
    policy, now = ledger.policy, utcnow()
    since = now - timedelta(days=policy.budget_days)
    times = (
        sorted(
            _aware(q.created_at)
            for q in ledger.queries(requester)
            if q.role == "sponsor" and _aware(q.created_at) > since
        )
        + [now] * pending
    )
    k = max(0, len(times) - policy.budget)
    if k >= len(times):
        return 1
    free_at = times[k] + timedelta(days=policy.budget_days)
    return max(1, int((free_at - now).total_seconds()) + 1)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def submit_run(
    engine: Engine,
    *,
    criteria: str,
    requester: str,
    role: str = "sponsor",
    criteria_format: str = "dsl",
    options: Mapping[str, Any] | None = None,
    study_id: int | None = None,
    version_id: int | None = None,
    max_attempts: int = 3,
) -> FeasibilityRun:
    """Queue one run and return it (committed: once this returns, the run is durable)."""
    if criteria_format not in ("dsl", "ir"):
        raise MatcherError(f"criteria_format {criteria_format!r}: use 'dsl' or 'ir'")
    unknown = sorted(set(options or {}) - OPTION_NAMES)
    if unknown:
        raise MatcherError(
            f"run options: unknown {', '.join(unknown)}; use {', '.join(sorted(OPTION_NAMES))}"
        )
    run = FeasibilityRun(
        criteria=criteria,
        criteria_format=criteria_format,
        requester=requester,
        role=role,
        options_json=json.dumps(dict(options or {}), sort_keys=True),
        study_id=study_id,
        version_id=version_id,
        max_attempts=max_attempts,
    )
    return insert_detached(engine, run)


def get_run(engine: Engine, run_id: int) -> FeasibilityRun | None:
    with Session(engine) as session:
        run = session.get(FeasibilityRun, run_id)
        if run is not None:
            session.expunge(run)
        return run


def claim_next(engine: Engine, *, worker: str, now: datetime | None = None) -> RunClaim | None:
    """Hand the oldest queued run to ``worker`` (see the module docstring), or ``None``."""
    now = now or utcnow()
    sqlite = engine.dialect.name == "sqlite"
    pick = select(T.c.id).where(T.c.status == RunStatus.QUEUED.value).order_by(T.c.id).limit(1)
    if not sqlite:
        pick = pick.with_for_update(skip_locked=True)
    with engine.connect() as conn:
        if sqlite:
            # A plain read first: an idle poll takes no write lock.
            queued = conn.execute(pick).first() is not None
            conn.rollback()
            if not queued:
                return None
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        run_id = conn.execute(pick).scalar_one_or_none()
        if run_id is None:
            conn.rollback()
            return None
        claimed = conn.execute(
            update(T)
            .where(T.c.id == run_id, T.c.status == RunStatus.QUEUED.value)
            .values(
                status=RunStatus.RUNNING.value,
                claimed_by=worker,
                attempts=T.c.attempts + 1,
                heartbeat_at=now,
                started_at=now,
                phase="claimed",
                progress=0.0,
            )
            .returning(T.c.attempts)
        ).scalar_one_or_none()
        conn.commit()
    return None if claimed is None else RunClaim(run_id, worker, int(claimed))


def _mine(claim: RunClaim):  # type: ignore[no-untyped-def]
    return (
        T.c.id == claim.run_id,
        T.c.status == RunStatus.RUNNING.value,
        T.c.claimed_by == claim.worker,
        T.c.attempts == claim.attempt,
    )


def _write(engine: Engine, claim: RunClaim, **values: Any) -> bool:
    with engine.begin() as conn:
        return conn.execute(update(T).where(*_mine(claim)).values(**values)).rowcount == 1


def beat(
    engine: Engine, claim: RunClaim, *, phase: str | None = None, progress: float | None = None
) -> bool:
    """Refresh the heartbeat (and the phase/progress); ``False``: the claim was lost."""
    values: dict[str, Any] = {"heartbeat_at": utcnow()}
    if phase is not None:
        values["phase"] = phase[:100]
    if progress is not None:
        values["progress"] = progress
    return _write(engine, claim, **values)


def finish_run(
    engine: Engine,
    claim: RunClaim,
    *,
    result_json: str,
    notes: Sequence[str],
    data_snapshot: str | None,
    histogram_json: str | None = None,
) -> bool:
    """Store the result and mark the run done (only while the claim is still ``claim``);
    with the run's outcome histogram (:class:`RunHistogram`) in the same transaction."""
    values = {
        "status": RunStatus.DONE.value,
        "phase": "done",
        "progress": 1.0,
        "result_json": result_json,
        "notes_json": json.dumps(list(notes), ensure_ascii=False),
        "data_snapshot": data_snapshot,
        "finished_at": utcnow(),
    }
    with engine.begin() as conn:
        if conn.execute(update(T).where(*_mine(claim)).values(**values)).rowcount != 1:
            return False
        if histogram_json is not None:
            conn.execute(
                insert(RunHistogram.__table__).values(  # type: ignore[attr-defined]
                    run_id=claim.run_id,
                    data_snapshot=data_snapshot or "",
                    histogram_json=histogram_json,
                    created_at=utcnow(),
                )
            )
    return True


def fail_run(engine: Engine, claim: RunClaim, *, kind: str, message: str) -> bool:
    """Mark the run failed with a reason (``kind``: refused, budget, criteria, error...)."""
    return _write(
        engine,
        claim,
        status=RunStatus.FAILED.value,
        phase="failed",
        error=message,
        error_kind=kind[:20],
        finished_at=utcnow(),
    )


def recover_stale(
    engine: Engine, *, stale_after: timedelta, now: datetime | None = None
) -> tuple[int, int]:
    """Queue again, or fail when out of attempts, every running run whose heartbeat is older
    than ``stale_after``. Returns (requeued, failed)."""
    now = now or utcnow()
    seconds = int(stale_after.total_seconds())
    return _requeue_or_fail(
        engine,
        T.c.heartbeat_at < now - stale_after,
        f"its worker stopped responding (no heartbeat for {seconds} s) on every attempt",
        now,
    )


def release_claims(
    engine: Engine, workers: Sequence[str], *, now: datetime | None = None
) -> tuple[int, int]:
    """Queue again (or fail when out of attempts) the runs held by ``workers``, known dead
    (e.g. a process of this machine killed before a restart). Returns (requeued, failed)."""
    if not workers:
        return 0, 0
    return _requeue_or_fail(
        engine,
        T.c.claimed_by.in_(list(workers)),
        "its worker process died on every attempt",
        now or utcnow(),
    )


def _requeue_or_fail(engine: Engine, which: Any, reason: str, now: datetime) -> tuple[int, int]:
    running = (T.c.status == RunStatus.RUNNING.value, which)
    with engine.begin() as conn:
        requeued = conn.execute(
            update(T)
            .where(*running, T.c.attempts < T.c.max_attempts)
            .values(
                status=RunStatus.QUEUED.value,
                claimed_by=None,
                phase="queued again: its worker stopped responding",
                progress=0.0,
            )
        ).rowcount
        failed = conn.execute(
            update(T)
            .where(*running, T.c.attempts >= T.c.max_attempts)
            .values(
                status=RunStatus.FAILED.value,
                phase="failed",
                error_kind="stale",
                error=f"{reason}; nothing was released; submit it again or ask a steward",
                finished_at=now,
            )
        ).rowcount
    return requeued, failed


def running_claims(engine: Engine) -> list[str]:
    """The workers holding a running run."""
    stmt = select(T.c.claimed_by).where(T.c.status == RunStatus.RUNNING.value).distinct()
    with engine.connect() as conn:
        return [w for w in conn.execute(stmt).scalars() if w]


def is_finished(run: FeasibilityRun) -> bool:
    return run.status in FINISHED
