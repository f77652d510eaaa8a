"""The audit log: one hash-chained row per request, refusals included.

Each row says who (account name, ``-`` when unknown), role, scope (a physician's practice),
method and route (the route template, e.g. ``/studies/{study_id}``), object (the path
parameters, e.g. ``study_id=3``), the HTTP status and the decision (``allowed``, ``refused``,
``failed``) and the time. Nothing else: no body, no query string, no patient-level data.

The chain reuses the ledger's (:mod:`matcher.disclosure.chain`): a row's ``hash`` is
``link_hash(prev, seq, "request", route, sha256(canonical(fields)), micros(at))``, and the
``api_audit_head`` row holds the last link, so :func:`verify_audit` (``p4dp audit verify``)
finds an edited, inserted or deleted row, the last one included.

    >>> decision_for(200), decision_for(404), decision_for(503)
    ('allowed', 'refused', 'failed')
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from matcher.api.models import AuditHead, AuditRow, utcnow
from matcher.disclosure.chain import GENESIS, canonical, link_hash, micros, sha256

FIELDS = ("who", "role", "scope", "method", "route", "object", "status", "decision")


def decision_for(status: int) -> str:
    if status >= 500:
        return "failed"
    return "refused" if status >= 400 else "allowed"


def row_digest(row: AuditRow) -> str:
    return sha256(canonical([getattr(row, name) for name in FIELDS]))


def row_hash(row: AuditRow) -> str:
    return link_hash(row.prev, row.seq, "request", row.route, row_digest(row), micros(row.at))


def _lock_head(session: Session) -> AuditHead:
    """The head row, write-locked (SQLite: the database lock; PostgreSQL: the row lock)."""
    stmt = update(AuditHead).where(AuditHead.key == "head").values(seq=AuditHead.seq)
    if session.connection().execute(stmt).rowcount == 0:
        session.add(AuditHead(key="head", seq=0, hash=GENESIS))
        session.flush()
    head = session.get(AuditHead, "head", populate_existing=True)
    assert head is not None
    return head


@dataclass(frozen=True)
class Caller:
    """Who made a request, as the audit row names them (kept on ``request.state.caller``)."""

    name: str
    role: str
    scope: str

    @classmethod
    def of(cls, account: Any) -> Caller:
        return cls(account.name, account.role, account.practice or "-")


ANONYMOUS = Caller("-", "-", "-")


def caller_for_token(engine: Engine, token: str) -> Caller | None:
    """The caller a live token names (for requests no route authenticated, e.g. a 404)."""
    from matcher.api.accounts import account_for_token

    with Session(engine) as session:
        account = account_for_token(session, token)
        return Caller.of(account) if account is not None else None


@dataclass(frozen=True)
class AuditEntry:
    """What the middleware knows about a finished request."""

    who: str
    role: str
    scope: str
    method: str
    route: str
    object: str
    status: int


def append_audit(engine: Engine, entry: AuditEntry, at: datetime | None = None) -> AuditRow:
    """Write one row at the end of the chain (its own transaction)."""
    with Session(engine) as session:
        head = _lock_head(session)
        row = AuditRow(
            seq=head.seq + 1,
            at=at or utcnow(),
            who=entry.who[:100],
            role=entry.role[:20],
            scope=entry.scope[:100],
            method=entry.method[:10],
            route=entry.route[:200],
            object=entry.object[:200],
            status=entry.status,
            decision=decision_for(entry.status),
            prev=head.hash,
            hash="",
        )
        row.hash = row_hash(row)
        head.seq, head.hash = row.seq, row.hash
        session.add(row)
        session.add(head)
        session.commit()
        session.refresh(row)
        return row


@dataclass
class AuditReport:
    rows: int
    problems: list[str]
    head_hash: str

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_audit(engine: Engine) -> AuditReport:
    """Recompute the chain: every problem found, in order (empty list: intact)."""
    with Session(engine) as session:
        rows = list(session.exec(select(AuditRow).order_by(AuditRow.seq)))
        head = session.get(AuditHead, "head")
        seen = rows[-1].seq if rows else 0
        if head is not None and head.seq > seen:  # rows a live server appended meanwhile
            more = select(AuditRow).where(AuditRow.seq > seen, AuditRow.seq <= head.seq)
            rows += list(session.exec(more.order_by(AuditRow.seq)))
    problems: list[str] = []
    prev, expected = GENESIS, 1
    for row in rows:
        if row.seq != expected:
            problems.append(f"audit rows {expected}..{row.seq - 1} are missing (deleted)")
        expected = row.seq + 1
        if row.prev != prev:
            problems.append(f"audit row {row.seq}: does not follow the row before it (inserted?)")
        if row.hash != row_hash(row):
            problems.append(f"audit row {row.seq}: its hash does not match its fields (edited)")
        prev = row.hash
    last = (rows[-1].seq, rows[-1].hash) if rows else (0, GENESIS)
    recorded = (head.seq, head.hash) if head is not None else (0, GENESIS)
    if last != recorded:
        problems.append("the recorded head is not the last row (rows deleted at the end?)")
    return AuditReport(len(rows), problems, recorded[1])
