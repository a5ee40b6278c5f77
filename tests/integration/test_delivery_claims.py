"""A claim belongs to one sender: a batch a slow sender is still working through is not sent a
second time by a run that took some of its claims back as stale.

A run claims a batch, then sends it one by one; with a receiver that takes its time (a webhook
timing out at 10 s, 500 to a batch) the batch's last claims are older than `STALE_CLAIM` before
their turn comes. Another run then takes them back and sends them; the first must not send them
again when it gets there."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from billing.core.lifecycle import Reminder
from billing.services.notification_delivery import deliver_all
from billing.store import send_ledger
from billing.store.send_ledger import ClaimedNotification

NOW = datetime(2026, 3, 12, 9, tzinfo=UTC)


def _reminder(n: int) -> Reminder:
    return Reminder(f"c{n}", "trial_ending", "contract/2026-03-01", "2026-03-15/3d", f"c{n}@x.example", {})


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class SlowChannel:
    """Counts its sends, each taking two minutes of the clock (a receiver answering just
    within the timeout); once the batch's claims are over `STALE_CLAIM` old, another run comes
    along, before the next send, and delivers what it can claim."""

    channel = "email"

    def __init__(self, clock: Clock, sent: Counter[str]) -> None:
        self.clock = clock
        self.sent = sent
        self.other_run_came = False

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        if not self.other_run_came and self.clock.now - NOW > send_ledger.STALE_CLAIM:
            self.other_run_came = True
            deliver_all(engine, [CountingChannel(self.sent)], self.clock)
        self.clock.now += timedelta(minutes=2)
        self.sent[notification.key] += 1
        return notification.key


class CountingChannel:
    channel = "email"

    def __init__(self, sent: Counter[str]) -> None:
        self.sent = sent

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        self.sent[notification.key] += 1
        return notification.key


def test_claims_taken_back_from_a_slow_run_are_not_sent_by_it_again(engine):
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_reminder(n) for n in range(12)], NOW)
    sent: Counter[str] = Counter()
    clock = Clock()
    report = deliver_all(engine, [SlowChannel(clock, sent)], clock)
    assert len(sent) == 12 and set(sent.values()) == {1}, sent
    assert len(report.sent) == 9  # 8 in 16 minutes and the one it was at; the other run the rest
    with engine.connect() as connection:
        assert send_ledger.claim(connection, NOW + timedelta(days=1)) == []
