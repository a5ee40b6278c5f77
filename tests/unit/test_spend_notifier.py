"""The HTTP spend notifier coalesces requests into one evaluation at a time: a batch that came
in while another was evaluated is judged at its own request's instant and catalog, not at the
instant of the request that happened to start the loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from billing.api.spend_notices import SpendNotifier

FIRST = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
LATER = FIRST + timedelta(minutes=2)  # already the next period for a UTC customer


class RecordingNotifier(SpendNotifier):
    """Records each evaluation; a second request arrives while the first is evaluated."""

    def __init__(self) -> None:
        super().__init__(engine=None, settings=None)  # type: ignore[arg-type]
        self.evaluated: list[tuple[list[str], Any, datetime]] = []

    def _evaluate(self, customer_ids: set[str], catalog: Any, as_of: datetime) -> None:
        self.evaluated.append((sorted(customer_ids), catalog, as_of))
        if len(self.evaluated) == 1:  # the other request, handled on another thread meanwhile
            self.add(["bravo"])
            self.run("catalog v2", LATER)  # returns at once: this loop is running


def test_a_batch_coalesced_into_a_running_loop_is_judged_at_its_own_instant() -> None:
    notifier = RecordingNotifier()
    notifier.add(["acme"])
    notifier.run("catalog v1", FIRST)
    assert notifier.evaluated == [(["acme"], "catalog v1", FIRST), (["bravo"], "catalog v2", LATER)]
