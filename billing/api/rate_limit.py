"""Per-API-key rate limiting (SPEC §8): a token bucket per key, in this server process.

Each key may make `rate` requests a second on average and `burst` at once; past that the
request is refused with 429 and a `Retry-After` saying when the next one will be allowed. The
buckets live in the process: behind several server processes each one limits on its own
(the limit is then per key and process).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_IDLE_BUCKETS_KEPT = 10_000  # a full bucket carries no state: forget the oldest past this many


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`wait(key)`: None when the request may go now (a token is taken), else the seconds until
    the key's next token. Thread-safe: FastAPI runs sync routes in a thread pool."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float | None:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket  # most recently used last
            if len(self._buckets) > _IDLE_BUCKETS_KEPT:
                self._forget_full(now)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return None
            return (1 - bucket.tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        for key in list(self._buckets)[: len(self._buckets) - _IDLE_BUCKETS_KEPT]:
            bucket = self._buckets[key]
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst:
                del self._buckets[key]


def retry_after(seconds: float) -> str:
    """The `Retry-After` header's whole seconds, never 0 for a refused request."""
    return str(max(1, math.ceil(seconds)))
