"""Per-account rate limits: a fixed budget of requests per minute, refilled continuously.

>>> limiter = RateLimiter(per_minute=2)
>>> limiter.take("a", now=0.0), limiter.take("a", now=0.0), limiter.take("b", now=0.0)
(0.0, 0.0, 0.0)
>>> limiter.take("a", now=0.0)  # seconds to wait before the next request
30.0
>>> limiter.take("a", now=30.0)
0.0
"""

from __future__ import annotations

import threading
import time


class RateLimiter:
    """A token bucket per key (held in memory: the limit holds per server process)."""

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
