"""Spend alerts for `POST /v1/events`: evaluated after the answer is sent, coalesced.

A request's answer does not wait for its customers' spend to be metered: the route hands the
customers it stored events for to the app's `SpendNotifier` in a background task, which runs
after the response. Requests arriving while an evaluation runs only add their customers to the
next batch, so under load one evaluation (and one delivery) serves many requests, and at most
one runs at a time per process. What a crash loses here the daily scan catches up (it
evaluates every customer with usage since its last evaluation).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.runtime import resources
from billing.runtime.settings import Settings
from billing.services.notification_delivery import deliver_all
from billing.services.spend_alerts import evaluate_spend

logger = logging.getLogger(__name__)


class SpendNotifier:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._running = False
        self._newest: tuple[Catalog, datetime] | None = None  # the latest request's catalog and instant

    def add(self, customer_ids: Iterable[str]) -> None:
        with self._lock:
            self._pending.update(customer_ids)

    def run(self, catalog: Catalog, as_of: datetime) -> None:
        """Evaluate and deliver until nothing waits; returns at once if another thread is at it.
        Each batch is judged at the newest request's instant and catalog (a request coalesced
        into a running loop is not judged at the instant of the one that started it)."""
        with self._lock:
            if self._newest is None or as_of >= self._newest[1]:
                self._newest = (catalog, as_of)
            if self._running or not self._pending:
                return
            self._running = True
        try:
            while True:
                with self._lock:
                    batch, self._pending = self._pending, set()
                    if not batch or self._newest is None:
                        self._running = False
                        return
                    newest_catalog, newest_as_of = self._newest
                self._evaluate(batch, newest_catalog, newest_as_of)
        except BaseException:
            with self._lock:
                self._running = False
            raise

    def _evaluate(self, customer_ids: set[str], catalog: Catalog, as_of: datetime) -> None:
        try:
            channels = resources.notification_channels(self.settings)
            report = evaluate_spend(
                self.engine, catalog, sorted(customer_ids), as_of, as_of, channels=channels
            )
            if report.new:
                senders = resources.channel_senders(self.settings)
                deliver_all(self.engine, senders, lambda: datetime.now(UTC))
        except Exception:  # never the request's failure: the daily scan evaluates them again
            logger.exception("spend alerts of %d customers not evaluated", len(customer_ids))
