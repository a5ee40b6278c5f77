"""Delivering what the send ledger holds, channel by channel: claim, send, record.

Each channel (`email`, `webhook`) has a sender that turns one claimed notification into one
message and returns the receiver's message id, or raises. A failure that may pass later (a
`DeliveryError` marked retryable, or anything unexpected) goes back to pending with its error and
waits its backoff (`billing.core.delivery_retry`); a permanent one, or the last try allowed,
marks the delivery `failed` for good. A claim is what allows a send, so two runs at once never
send the same delivery; only a process killed between its send and its record leaves a claim
that a later run takes back after `send_ledger.STALE_CLAIM` and sends again, with the same key.
A batch is claimed at once and sent one by one, each claim renewed at its turn: a slow receiver
can keep a batch busy past `STALE_CLAIM`, and what another run took back is that run's to send.
A receiver that asks to slow down (429 or 503) stops its channel for the run: the deliveries
claimed after the refused one are given back untried, to go when the refused one may be tried
again, instead of each spending one of its tries on the same refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy.engine import Engine

from billing.core.delivery_retry import next_try
from billing.notify.backends import DeliveryError
from billing.store import send_ledger
from billing.store.send_ledger import ClaimedNotification


class ChannelSender(Protocol):
    """Sends claimed notifications on one channel."""

    channel: str

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        """Deliver `notification`; return the message id, or raise (`DeliveryError` says
        whether a retry may pass)."""
        ...


@dataclass(frozen=True, order=True, slots=True)
class Delivery:
    """One notification on one channel: what a report counts."""

    key: str  # the ledger key
    channel: str

    def __str__(self) -> str:
        return f"{self.key} by {self.channel}"


@dataclass
class DeliveryReport:
    sent: list[Delivery] = field(default_factory=list)
    failed: dict[Delivery, str] = field(default_factory=dict)  # -> the error, one line
    gave_up: set[Delivery] = field(default_factory=set)  # of `failed`: never tried again
    # channel -> deliveries waiting on it while no sender of it is configured (a webhook removed)
    stranded: dict[str, int] = field(default_factory=dict)
    # channel -> (deliveries given back untried, when they go) after its receiver asked to slow down
    held_back: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def add(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.failed.update(other.failed)
        self.gave_up |= other.gave_up
        for channel, (count, until) in other.held_back.items():
            before, _ = self.held_back.get(channel, (0, until))
            self.held_back[channel] = (before + count, until)
        for channel, waiting in other.stranded.items():
            self.stranded[channel] = max(waiting, self.stranded.get(channel, 0))
        return self

    def counts(self, channel: str) -> dict[str, int]:
        """What one channel did: `{"sent": n, "failed": m, "failed_for_good": k, "held_back": h}`,
        `k` of the `m` failures never tried again, `h` deliveries given back untried after the
        receiver asked to slow down (a report holds every channel's)."""
        return {
            "sent": sum(1 for d in self.sent if d.channel == channel),
            "failed": sum(1 for d in self.failed if d.channel == channel),
            "failed_for_good": sum(1 for d in self.gave_up if d.channel == channel),
            "held_back": self.held_back.get(channel, (0, None))[0],
        }

    def failure_lines(self) -> list[str]:
        """One line per failure, saying whether a later run tries it again."""
        lines = [
            f"{'failed for good' if d in self.gave_up else 'not sent, will retry'}: {d}: {error}"
            for d, error in sorted(self.failed.items())
        ]
        for channel, (count, until) in sorted(self.held_back.items()):
            lines.append(
                f"not sent: {count} {channel} deliver{'y waits' if count == 1 else 'ies wait'} untried"
                f" until {until.isoformat()}: the receiver asked to slow down"
            )
        for channel, waiting in sorted(self.stranded.items()):
            lines.append(
                f"not sent: {waiting} {channel} deliver{'y waits' if waiting == 1 else 'ies wait'}"
                f" while no {channel} sender is configured; they go out once one is"
            )
        return lines


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, DeliveryError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


THROTTLED = (429, 503)  # a receiver's "slow down": the channel stops for the run


def _deliver_batch(
    engine: Engine,
    sender: ChannelSender,
    clock: Callable[[], datetime],
    limit: int,
    since: datetime | None,
) -> tuple[DeliveryReport, int, bool]:
    """Claim up to `limit` deliveries and send them one by one, each claim renewed at its turn
    (`send_ledger.renew_claim`): one another run took back meanwhile is its to send. Once the
    receiver asks to slow down, the rest are given back untried (`report.held_back`); the
    report, how many were claimed, and whether the receiver asked to slow down."""
    report = DeliveryReport()
    with engine.begin() as connection:
        claimed = send_ledger.claim(connection, clock(), limit, since, channel=sender.channel)
    for position, notification in enumerate(claimed):
        with engine.begin() as connection:
            if not send_ledger.renew_claim(connection, notification, clock()):
                continue
        delivery = Delivery(notification.key, sender.channel)
        try:
            message_id = sender.send(engine, notification)
        except Exception as error:  # recorded on the delivery, never raised: the others go on
            retryable = error.retryable if isinstance(error, DeliveryError) else True
            # the receiver's Retry-After, a floor under the backoff
            asked = error.retry_after if isinstance(error, DeliveryError) else None
            retry_at = next_try(notification.attempts, retryable, clock(), asked)
            message = _one_line(error)
            with engine.begin() as connection:
                send_ledger.mark_failed(
                    connection, notification.delivery_id, message, retry_at=retry_at, final=retry_at is None
                )
            report.failed[delivery] = message
            if retry_at is None:
                report.gave_up.add(delivery)
            status = error.status if isinstance(error, DeliveryError) else None
            if status in THROTTLED:
                until = retry_at or next_try(1, True, clock(), asked) or clock()
                with engine.begin() as connection:
                    count = send_ledger.release_claims(connection, claimed[position + 1 :], until)
                if count:
                    report.held_back[sender.channel] = (count, until)
                return report, len(claimed), True
            continue
        with engine.begin() as connection:
            send_ledger.mark_sent(connection, notification.delivery_id, message_id, clock())
        report.sent.append(delivery)
    return report, len(claimed), False


def deliver_pending(
    engine: Engine,
    senders: Sequence[ChannelSender],
    now: datetime,
    limit: int = 500,
    since: datetime | None = None,
) -> DeliveryReport:
    """Send up to `limit` pending deliveries of each channel, each claimed before it is sent;
    those tried at or after `since` (this sending run) are left for the next run."""
    report = DeliveryReport()
    for sender in senders:
        report.add(_deliver_batch(engine, sender, lambda: now, limit, since)[0])
    return report


def deliver_all(
    engine: Engine, senders: Sequence[ChannelSender], clock: Callable[[], datetime], batch: int = 500
) -> DeliveryReport:
    """Send everything pending on every channel, batch by batch, trying each delivery once in
    this run."""
    report = DeliveryReport()
    started = clock()
    for sender in senders:
        while True:
            sent, claimed, throttled = _deliver_batch(engine, sender, clock, batch, started)
            report.add(sent)
            if claimed < batch or throttled:
                break
    configured = {sender.channel for sender in senders}
    with engine.connect() as connection:
        waiting = send_ledger.pending_by_channel(connection)
    report.stranded = {c: n for c, n in waiting.items() if c not in configured}
    return report
