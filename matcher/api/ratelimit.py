"""Per-account rate limits: a budget of requests per minute, refilled continuously.

:class:`RateLimiter` keeps its buckets in memory (one process); :class:`DatabaseRateLimiter`,
which the service uses, keeps them in the service's database (table ``api_rate_bucket``), so
the limit holds across every process of ``p4dp serve --workers N`` and every server sharing
the database. Each request spends one token in one conditional ``UPDATE`` (atomic on SQLite and
PostgreSQL: two processes never spend the same token). Times are wall-clock seconds
(``time.time()``), the clock every process of one machine shares.

>>> limiter = RateLimiter(per_minute=2)
>>> limiter.take("a", now=0.0), limiter.take("a", now=0.0), limiter.take("b", now=0.0)
(0.0, 0.0, 0.0)
>>> limiter.take("a", now=0.0)  # seconds to wait before the next request
30.0
>>> limiter.take("a", now=30.0)
0.0
>>> from sqlmodel import create_engine
>>> shared = DatabaseRateLimiter(create_engine("sqlite://"), per_minute=2, create=True)
>>> shared.take("a", now=0.0), shared.take("a", now=0.0), shared.take("a", now=0.0)
(0.0, 0.0, 30.0)
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, case, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel


class RateBucket(SQLModel, table=True):
    """The tokens left to one key (``account:ID``) at ``updated_at`` (epoch seconds)."""

    __tablename__ = "api_rate_bucket"

    key: str = Field(primary_key=True, max_length=100)
    tokens: float
    updated_at: float


RATE_MODELS: tuple[type[SQLModel], ...] = (RateBucket,)


class RateLimiter:
    """A token bucket per key (held in memory: the limit holds per process)."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request of ``key``: 0.0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


class DatabaseRateLimiter:
    """The same token bucket, kept in the database (see the module docstring)."""

    def __init__(self, engine: Engine, per_minute: int, *, create: bool = False) -> None:
        self.engine = engine
        self.capacity = float(max(1, per_minute))
        self.rate = self.capacity / 60.0
        if create:  # tests and scratch databases; the service has the Alembic migration
            SQLModel.metadata.create_all(engine, tables=[RateBucket.__table__])  # type: ignore[attr-defined]

    def take(self, key: str, now: float | None = None) -> float:
        """Spend one request of ``key``: 0.0 when allowed, else the seconds to wait."""
        now = time.time() if now is None else now
        t = RateBucket.__table__  # type: ignore[attr-defined]
        refill = t.c.tokens + (now - t.c.updated_at) * self.rate
        filled = case((refill > self.capacity, self.capacity), else_=refill)
        for _ in range(5):  # a concurrent first request of the key: try again
            with self.engine.begin() as conn:
                spent = conn.execute(
                    update(t)
                    .where(t.c.key == key, filled >= 1.0)
                    .values(tokens=filled - 1.0, updated_at=now)
                ).rowcount
                if spent == 1:
                    return 0.0
                row = conn.execute(select(t.c.tokens, t.c.updated_at).where(t.c.key == key)).first()
                if row is not None:
                    tokens = min(self.capacity, row.tokens + (now - row.updated_at) * self.rate)
                    if tokens < 1.0:
                        return (1.0 - tokens) / self.rate
                    # the row was committed by a concurrent first request after this
                    # update's snapshot (PostgreSQL, read committed): spend again
                    continue
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(t).values(key=key, tokens=self.capacity - 1.0, updated_at=now)
                    )
                return 0.0
            except IntegrityError:
                continue
        return 1.0
