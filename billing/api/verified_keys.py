"""API keys verified against the database, remembered for a few seconds.

Every authenticated request used to read `api_keys` (a connection and a round trip) before any
work. A key found active is remembered, by its SHA-256 and never in plain text, for
`KEY_CACHE_SECONDS`: a key revoked meanwhile (`billing api-key revoke`, from any process) is
refused by this process at most that many seconds after the revocation committed. Unknown and
revoked keys are never remembered, so a key made a moment ago works at once, and a refused key
is looked up again on each request.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

KEY_CACHE_SECONDS = 5.0
_CAPACITY = 4096  # keys remembered at once; the least recently verified is forgotten first


class VerifiedKeys:
    """The owners of keys verified in the last `ttl` seconds of `clock` (monotonic seconds)."""

    def __init__(self, ttl: float = KEY_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._owners: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def remembered(self, key: str) -> str | None:
        """The owner of `key` if it was verified less than `ttl` seconds ago, else None (and
        `owner` looks it up): never blocks."""
        remembered = self._owners.get(self._digest(key))
        if remembered is not None and self._clock() - remembered[1] < self.ttl:
            return remembered[0]
        return None

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()

    def owner(self, key: str, lookup: Callable[[str], str | None]) -> str | None:
        """The owner of `key`: remembered if verified less than `ttl` seconds ago, else
        `lookup(key)` (None: unknown or revoked), remembered when found."""
        remembered = self.remembered(key)
        if remembered is not None:
            return remembered
        digest, now = self._digest(key), self._clock()
        found = lookup(key)
        with self._lock:
            self._owners.pop(digest, None)
            if found is not None:
                while len(self._owners) >= _CAPACITY:
                    self._owners.pop(next(iter(self._owners)))
                self._owners[digest] = (found, now)
        return found
