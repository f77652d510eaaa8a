"""The ledger's hash chain: every change is one link, so an edit or a deletion shows.

Each link (a ``ledger_chain`` row) holds a sequence number, a kind (``init``, ``policy``,
``steward``, ``query``, ``freeze``, ``unfreeze``), what it is about (``ref``: a query id or a
requester), a body (JSON: the policy, the steward, the freeze reason; empty for a query), the
SHA-256 ``digest`` of its canonical content, the hash of the link before (``prev``) and its own
``hash`` = SHA-256 of all of these. The content of a ``query`` link is its ``ledger_query``
row with every ``ledger_release`` and ``ledger_sketch`` row of that query (a sketch by its
SHA-256), so editing, adding or deleting any of them changes the digest. The ``head`` row of
``ledger_meta`` holds the last link and how many rows each table should have, which every
command checks cheaply (:func:`quick_check`); ``p4dp ledger verify`` recomputes everything
(:func:`verify`).

A chain shows changes made *around* p4dp (a row deleted in a database shell, a restored old
file); whoever can rewrite the whole database can also recompute the chain, so the head hash
printed by ``p4dp ledger verify`` is worth writing down somewhere else (see docs/security.md).

    >>> canonical({"b": 1, "a": [2, "x"]})
    '{"a":[2,"x"],"b":1}'
    >>> first = link_hash(GENESIS, 1, "init", "", sha256("{}"), 0)
    >>> first == link_hash(GENESIS, 1, "init", "", sha256("{}"), 0)
    True
    >>> first == link_hash(GENESIS, 1, "init", "", sha256("{ }"), 0)  # any change shows
    False
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, update
from sqlmodel import Session, select

from matcher.disclosure.sticky import LedgerSecret, LedgerSketch
from matcher.disclosure.store import (
    LedgerChain,
    LedgerError,
    LedgerMeta,
    LedgerQuery,
    LedgerRelease,
    LedgerRequester,
)

GENESIS = "0" * 64
COUNTED = {
    "ledger_query": LedgerQuery,
    "ledger_release": LedgerRelease,
    "ledger_sketch": LedgerSketch,
}
TAMPERED = "was modified outside p4dp"


def canonical(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, UTF-8 kept."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def micros(moment: datetime | None) -> int | None:
    """A time as microseconds since 1970 UTC (a naive time is read as UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def link_hash(prev: str, seq: int, kind: str, ref: str, digest: str, at: int | None) -> str:
    """The hash of one link from its fields."""
    return sha256(canonical([prev, seq, kind, ref, digest, at]))


def query_content(
    query: LedgerQuery, releases: list[LedgerRelease], sketches: list[LedgerSketch]
) -> str:
    """The canonical content of a query link: the query row and all its rows."""
    q = query.model_dump()
    q["created_at"] = micros(query.created_at)
    rel = sorted(
        [
            r.requester,
            r.role,
            r.study_id,
            r.criteria_hash,
            r.data_snapshot,
            r.what,
            r.true_count,
            r.released,
            micros(r.released_at),
        ]
        for r in releases
    )
    sk = sorted(
        [
            s.requester,
            s.cell,
            s.true_count,
            s.released,
            s.root_id,
            sha256(bytes(s.sketch)),
            micros(s.created_at),
        ]
        for s in sketches
    )
    return canonical({"query": q, "releases": rel, "sketches": sk})


@dataclass
class Head:
    """The last link and the number of rows each counted table should hold."""

    seq: int = 0
    hash: str = GENESIS
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))

    def dump(self) -> str:
        return canonical({"seq": self.seq, "hash": self.hash, "rows": self.rows})

    @classmethod
    def load(cls, text: str) -> Head:
        data = json.loads(text)
        return cls(
            int(data["seq"]), str(data["hash"]), {k: int(v) for k, v in data["rows"].items()}
        )


def lock_head(session: Session) -> Head:
    """Read the head after a write to its row (SQLite: the write lock; PostgreSQL: the row
    lock), so two processes never append the same sequence number."""
    stmt = update(LedgerMeta).where(LedgerMeta.key == "head").values(value=LedgerMeta.value)
    if session.connection().execute(stmt).rowcount == 0:
        session.add(LedgerMeta(key="head", value=Head().dump()))
        session.flush()
    row = session.get(LedgerMeta, "head", populate_existing=True)
    assert row is not None
    return Head.load(row.value)


def append(
    session: Session,
    *,
    kind: str,
    ref: str,
    now: datetime,
    body: dict[str, Any] | None = None,
    content: str | None = None,
    rows: dict[str, int] | None = None,
) -> None:
    """Add one link (inside the caller's transaction). ``content`` defaults to the body;
    ``rows`` says how many rows of each counted table this change added."""
    head = lock_head(session)
    text = canonical(body or {})
    digest = sha256(content if content is not None else text)
    seq, at = head.seq + 1, micros(now)
    hashed = link_hash(head.hash, seq, kind, ref, digest, at)
    session.add(
        LedgerChain(
            seq=seq,
            kind=kind,
            ref=ref,
            body=text,
            digest=digest,
            prev=head.hash,
            hash=hashed,
            created_at=now,
        )
    )
    head.seq, head.hash = seq, hashed
    for table, n in (rows or {}).items():
        head.rows[table] += n
    meta = session.get(LedgerMeta, "head")
    assert meta is not None
    meta.value = head.dump()
    session.add(meta)


def _read_head(session: Session) -> Head:
    """The recorded head as the database holds it now (never the session's cached row)."""
    value = session.exec(select(LedgerMeta.value).where(LedgerMeta.key == "head")).first()
    return Head.load(value) if value is not None else Head()


def _problems(session: Session, head: Head) -> list[str]:
    last = session.exec(select(LedgerChain).order_by(LedgerChain.seq.desc()).limit(1)).first()
    n_links = session.exec(select(func.count()).select_from(LedgerChain)).one()
    problems = []
    if (last.seq if last else 0, last.hash if last else GENESIS) != (head.seq, head.hash):
        problems.append("its last chain link does not match the recorded head")
    elif n_links != head.seq:
        problems.append(f"{head.seq - n_links} chain link(s) are missing")
    for table, model in COUNTED.items():
        n = session.exec(select(func.count()).select_from(model)).one()
        if n != head.rows.get(table, 0):
            diff = head.rows.get(table, 0) - n
            what = f"{diff} row(s) missing" if diff > 0 else f"{-diff} row(s) added"
            problems.append(f"{table}: {what}")
    return problems


def quick_check(session: Session, where: str) -> Head:
    """Cheap check run by every command: the head matches the last link and every counted
    table holds as many rows as the chain says. Raises :class:`LedgerError`.

    Outside a write transaction each read may see a later commit of another process (SQLite
    reads without ``BEGIN``): a release committed between reading the head and counting its
    rows would look like rows added. Every change of a counted table moves the head in the
    same transaction, so the check is repeated until the head read after the counts is the
    head read before them; then the counts belong to that head, and a mismatch is real."""
    for _attempt in range(10):
        head = _read_head(session)
        problems = _problems(session, head)
        if not problems or _read_head(session) == head:
            break
    if problems:
        raise LedgerError(
            f"ledger {where}: {TAMPERED} ({'; '.join(problems)}); nothing was done. "
            "Run p4dp ledger verify and have a steward investigate"
        )
    return head


@dataclass
class VerifyReport:
    """What :func:`verify` found: links checked, problems (empty: intact), the head."""

    links: int
    problems: list[str]
    head: Head

    @property
    def ok(self) -> bool:
        return not self.problems


def _group(rows, key) -> dict[str, list]:
    out: dict[str, list] = defaultdict(list)
    for row in rows:
        out[key(row)].append(row)
    return out


def verify(engine: Engine) -> VerifyReport:
    """Recompute the whole chain and compare every table with it (see the module docstring)."""
    problems: list[str] = []
    with Session(engine) as session:
        links = list(session.exec(select(LedgerChain).order_by(LedgerChain.seq)))
        queries = {q.id: q for q in session.exec(select(LedgerQuery))}
        releases = _group(session.exec(select(LedgerRelease)), lambda r: r.query_id)
        sketches = _group(session.exec(select(LedgerSketch)), lambda s: s.query_id)
        requesters = {r.requester: r for r in session.exec(select(LedgerRequester))}
        secret = session.get(LedgerSecret, "sketch")
        row = session.get(LedgerMeta, "head")
        head = Head.load(row.value) if row is not None else Head()
    prev, expected_seq = GENESIS, 1
    seen_queries: set[str] = set()
    frozen: dict[str, bool] = {}
    for link in links:
        where = f"link {link.seq} ({link.kind})"
        if link.seq != expected_seq:
            problems.append(f"links {expected_seq}..{link.seq - 1} are missing")
        expected_seq = link.seq + 1
        if link.prev != prev:
            problems.append(f"{where}: does not follow the link before it")
        if link.hash != link_hash(
            link.prev, link.seq, link.kind, link.ref, link.digest, micros(link.created_at)
        ):
            problems.append(f"{where}: its hash does not match its fields (edited)")
        prev = link.hash
        if link.kind == "query":
            query = queries.get(link.ref)
            seen_queries.add(link.ref)
            if query is None:
                problems.append(f"{where}: query {link.ref} was deleted")
                continue
            content = query_content(query, releases.get(link.ref, []), sketches.get(link.ref, []))
            if sha256(content) != link.digest:
                problems.append(
                    f"{where}: query {link.ref} or its released counts were edited or deleted"
                )
        elif sha256(link.body) != link.digest:
            problems.append(f"{where}: its body was edited")
        if link.kind in ("freeze", "unfreeze"):
            frozen[link.ref] = link.kind == "freeze"
        if link.kind == "init":
            body = json.loads(link.body)
            if secret is None or sha256(bytes(secret.value)) != body.get("sketch_secret_sha256"):
                problems.append(f"{where}: the sketch secret was changed or deleted")
    extra = sorted(set(queries) - seen_queries)
    if extra:
        problems.append(f"{len(extra)} query row(s) are not in the chain (added by hand)")
    orphans = sorted((set(releases) | set(sketches)) - set(queries))
    if orphans:
        problems.append(f"released counts of {len(orphans)} unknown query(ies)")
    for name, row in requesters.items():
        if bool(row.frozen) != frozen.get(name, False):
            problems.append(f"requester {name!r}: freeze state differs from the chain")
    if (head.seq, head.hash) != ((links[-1].seq, links[-1].hash) if links else (0, GENESIS)):
        problems.append("the recorded head is not the last link (links deleted at the end?)")
    if not links or links[0].kind != "init":
        problems.append("the chain does not start with the ledger's creation")
    return VerifyReport(len(links), problems, head)
