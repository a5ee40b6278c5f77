"""Concurrent callers' work done in one run, by whichever of them gets there first.

Great Expectations costs about the same per `batch.validate` whether the frame holds 1,000
rows or 8,000 (its fixed cost is building and resolving the metric graph of each expectation,
about 10 ms each on this machine, so 40-50 ms for the suite), and one process's suite
validates one frame at a time. `POST /v1/events` validates each request's batch: 8 concurrent
clients of 1,000 events each queued behind one another, each paying the whole fixed cost.

Here a caller adds its item to the waiting list and takes the run lock; whoever holds it takes
every item waiting at that moment and runs them together, then hands each caller its own
result (or the run's exception). A caller that finds its item already done when it gets the
lock just returns it. A lone caller (a file ingest's chunks) runs its own item at once, as
before; under load, a run serves every request that arrived while the previous run worked.
Measured in README, "Usage over HTTP and as CloudEvents".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Entry(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class CombinedRuns(Generic[T, R]):
    """`submit(item)` returns `run([...])`'s result for `item`; items submitted while a run
    works go together into the next one. `run` returns one result per item, in their order."""

    def __init__(self, run: Callable[[Sequence[T]], list[R]]) -> None:
        self._run = run
        self._waiting: list[_Entry[T, R]] = []
        self._waiting_lock = threading.Lock()
        self._running = threading.Lock()  # one run at a time: its entries are settled under it

    def submit(self, item: T) -> R:
        entry: _Entry[T, R] = _Entry(item)
        with self._waiting_lock:
            self._waiting.append(entry)
        with self._running:
            # not done: no run has taken it yet (a run settles what it takes before it lets go)
            if not entry.done:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._settle(group)
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]  # set with done, when error is None

    def _settle(self, group: list[_Entry[T, R]]) -> None:
        try:
            results = self._run([entry.item for entry in group])
            if len(results) != len(group):
                raise RuntimeError(f"a combined run gave {len(results)} results for {len(group)} items")
        except BaseException as error:  # every caller of the run raises it in its own thread
            for entry in group:
                entry.error, entry.done = error, True
            if not isinstance(error, Exception):
                raise  # an interrupt goes on in the thread it hit too
            return
        for entry, result in zip(group, results, strict=True):
            entry.result, entry.done = result, True
