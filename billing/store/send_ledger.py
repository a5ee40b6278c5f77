"""The send ledger: one row per notification key; claiming a delivery is what allows a send.

`(customer, kind, subject, period)` is unique, so a second scan cannot enqueue the same
notification twice. Each notification is delivered on each of its channels (`email`, and
`webhook` when one is configured) through its own `notification_deliveries` row: a delivery is
claimed (pending -> sending) by one worker in one statement; a failed send goes back to pending
with its error and is retried by a later run; a claim left behind by a crash is taken back after
`STALE_CLAIM`. An invoice's email (`invoice_issued`, its subject the invoice number) carries the
invoice's PDF: it waits, pending, until the PDF is stored. A reminder a late scan finds after
its event is recorded `skipped`, with no delivery at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from billing.core.lifecycle import Reminder
from billing.store.database import dialect_insert
from billing.store.models import InvoiceDocumentRow, InvoiceRow, Notification, NotificationDelivery

STALE_CLAIM = timedelta(minutes=15)
# the kinds whose subject is an invoice or credit note number and whose email carries its PDF
WITH_DOCUMENT_PDF = ("invoice_issued", "credit_note_issued")
EMAIL = "email"
WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    delivery_id: int
    channel: str
    id: int  # the notification's
    customer_id: str
    kind: str
    subject: str
    period: str
    recipient: str
    context: dict[str, Any]
    created_at: datetime
    attempts: int = 1  # this try included

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.customer_id}/{self.subject}/{self.period}"


def _rows(
    reminders: Iterable[Reminder], status: str, now: datetime, reason: str | None
) -> list[dict[str, Any]]:
    return [
        {
            "customer_id": r.customer_id,
            "kind": r.kind,
            "subject": r.subject,
            "period": r.period,
            "recipient": r.recipient,
            "context": r.context,
            "status": status,
            "created_at": now,
            "due_on": r.on,
            "reason": reason,
        }
        for r in reminders
    ]


def _insert_new(connection: sa.Connection, rows: list[dict[str, Any]]) -> dict[int, str]:
    """Insert the rows the ledger does not hold yet; their ids and keys."""
    if not rows:
        return {}
    n = Notification
    statement = (
        dialect_insert(connection, n)
        .on_conflict_do_nothing(index_elements=["customer_id", "kind", "subject", "period"])
        .returning(n.id, n.kind, n.customer_id, n.subject, n.period)
    )
    return {row[0]: "/".join(row[1:]) for row in connection.execute(statement, rows)}


def enqueue_new(
    connection: sa.Connection,
    reminders: Iterable[Reminder],
    now: datetime,
    channels: Sequence[str] = (EMAIL,),
) -> set[str]:
    """Record notifications as pending on each channel; one already in the ledger is left
    alone (whatever became of it). Returns the keys of those that were new."""
    new = _insert_new(connection, _rows(reminders, "pending", now, None))
    deliveries = [
        {"notification_id": i, "channel": channel, "status": "pending", "attempts": 0}
        for i in new
        for channel in channels
    ]
    if deliveries:
        connection.execute(sa.insert(NotificationDelivery), deliveries)
    return set(new.values())


def enqueue(
    connection: sa.Connection,
    reminders: Iterable[Reminder],
    now: datetime,
    channels: Sequence[str] = (EMAIL,),
) -> int:
    """`enqueue_new`, counting the new ones."""
    return len(enqueue_new(connection, reminders, now, channels))


def pending_by_channel(connection: sa.Connection) -> dict[str, int]:
    """How many deliveries wait (pending or being sent) on each channel."""
    d = NotificationDelivery
    rows = connection.execute(
        sa.select(d.channel, sa.func.count()).where(d.status.in_(("pending", "sending"))).group_by(d.channel)
    )
    return {channel: int(count) for channel, count in rows}


def record_skipped(
    connection: sa.Connection, reminders: Iterable[Reminder], now: datetime, reason: str
) -> int:
    """Record reminders that came too late as `skipped`: kept in the history, never delivered,
    and never sent by a later scan either. Returns how many were new."""
    return len(_insert_new(connection, _rows(reminders, "skipped", now, reason)))


def already_recorded(connection: sa.Connection, reminders: Iterable[Reminder]) -> set[str]:
    """Keys of these reminders that the ledger holds already (for dry runs)."""
    found: set[str] = set()
    for reminder in reminders:
        exists = connection.execute(
            sa.select(Notification.id).where(
                Notification.customer_id == reminder.customer_id,
                Notification.kind == reminder.kind,
                Notification.subject == reminder.subject,
                Notification.period == reminder.period,
            )
        ).first()
        if exists:
            found.add(reminder.key)
    return found


def claim(
    connection: sa.Connection,
    now: datetime,
    limit: int = 500,
    since: datetime | None = None,
    channel: str = EMAIL,
) -> list[ClaimedNotification]:
    """Take pending deliveries of `channel` (and stale claims) for sending; each goes to one
    claimant only.

    `since`: leave out deliveries already tried at or after that instant, so that a sending run
    tries each once and a run of failures cannot keep it busy forever. A delivery whose
    `next_attempt_at` (its retry backoff) is still ahead waits.
    """
    d = NotificationDelivery
    tried_before = since or now + STALE_CLAIM  # default: any pending row
    claimable = (
        sa.select(d.id)
        .join(Notification, Notification.id == d.notification_id)
        .where(
            d.channel == channel,
            sa.or_(
                sa.and_(
                    d.status == "pending",
                    sa.or_(d.claimed_at.is_(None), d.claimed_at < tried_before),
                    sa.or_(d.next_attempt_at.is_(None), d.next_attempt_at <= now),
                ),
                sa.and_(d.status == "sending", d.claimed_at < now - STALE_CLAIM),
            ),
            sa.true()
            if channel != EMAIL
            else sa.or_(Notification.kind.not_in(WITH_DOCUMENT_PDF), _invoice_pdf_stored()),
        )
        .order_by(d.id)
        .limit(limit)
        .with_for_update(of=d, skip_locked=True)
    )
    claimed = connection.execute(
        sa.update(d)
        .where(d.id.in_(claimable.scalar_subquery()))
        .values(status="sending", claimed_at=now, attempts=d.attempts + 1)
        .returning(d.id, d.notification_id, d.attempts)
    ).all()
    if not claimed:
        return []
    by_notification = {row.notification_id: row for row in claimed}
    rows = connection.execute(
        sa.select(
            Notification.id,
            Notification.customer_id,
            Notification.kind,
            Notification.subject,
            Notification.period,
            Notification.recipient,
            Notification.context,
            Notification.created_at,
        ).where(Notification.id.in_(list(by_notification)))
    ).all()
    found = []
    for row in rows:
        delivery = by_notification[row.id]
        found.append(
            ClaimedNotification(
                delivery_id=delivery.id,
                channel=channel,
                id=row.id,
                customer_id=row.customer_id,
                kind=row.kind,
                subject=row.subject,
                period=row.period,
                recipient=row.recipient,
                context=row.context,
                created_at=row.created_at,
                attempts=delivery.attempts,
            )
        )
    return sorted(found, key=lambda n: n.delivery_id)


def _invoice_pdf_stored() -> sa.Exists:
    return (
        sa.select(InvoiceDocumentRow.invoice_id)
        .join(InvoiceRow, InvoiceRow.id == InvoiceDocumentRow.invoice_id)
        .where(InvoiceRow.number == Notification.subject)
        .exists()
    )


def renew_claim(connection: sa.Connection, notification: ClaimedNotification, now: datetime) -> bool:
    """Just before its send: whether the claim is still this claimant's (no other run took it
    back as stale: each claim counts an attempt, so the count tells them apart), renewed to
    `now` so that no other run takes it back while it is sent. A batch is claimed at once and
    sent one by one; with a slow receiver its last claims grow stale before their turn."""
    renewed = connection.execute(
        sa.update(NotificationDelivery).where(_still_claimed(notification)).values(claimed_at=now)
    )
    return renewed.rowcount == 1


def _still_claimed(notification: ClaimedNotification) -> sa.ColumnElement[bool]:
    """The delivery, while the claim that took it is still this claimant's: each claim counts
    an attempt, so a claim another run took back as stale has another count."""
    d = NotificationDelivery
    return sa.and_(
        d.id == notification.delivery_id, d.status == "sending", d.attempts == notification.attempts
    )


def release_claims(
    connection: sa.Connection, notifications: Iterable[ClaimedNotification], retry_at: datetime
) -> int:
    """Give back claims that were never tried (the receiver asked to slow down before their
    turn): pending again from `retry_at`, the attempt their claim counted not counted. A claim
    another run took back meanwhile is left to it. Returns how many were given back."""
    d = NotificationDelivery
    released = 0
    for notification in notifications:
        result = connection.execute(
            sa.update(d)
            .where(_still_claimed(notification))
            .values(status="pending", attempts=d.attempts - 1, next_attempt_at=retry_at)
        )
        released += result.rowcount
    return released


def mark_sent(connection: sa.Connection, delivery_id: int, message_id: str, now: datetime) -> None:
    connection.execute(
        sa.update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id)
        .values(status="sent", sent_at=now, message_id=message_id, last_error=None)
    )
    _settle_notification(connection, delivery_id)


def mark_failed(
    connection: sa.Connection,
    delivery_id: int,
    error: str,
    retry_at: datetime | None = None,
    final: bool = False,
) -> None:
    """Back to pending, to be tried again from `retry_at` by a later run (`claimed_at` keeps
    when it was tried); `final`: given up, the delivery is `failed` for good."""
    connection.execute(
        sa.update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id)
        .values(status="failed" if final else "pending", last_error=error[:2000], next_attempt_at=retry_at)
    )
    if final:
        _settle_notification(connection, delivery_id)


def _settle_notification(connection: sa.Connection, delivery_id: int) -> None:
    """The notification's own status from its deliveries': sent once every channel has sent,
    failed once one gave up and none is still to try."""
    d = NotificationDelivery
    notification_id = sa.select(d.notification_id).where(d.id == delivery_id).scalar_subquery()
    siblings = sa.select(d.status).where(d.notification_id == Notification.id)
    open_ = siblings.where(d.status.in_(("pending", "sending"))).exists()
    failed = siblings.where(d.status == "failed").exists()
    connection.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id, ~open_)
        .values(status=sa.case((failed, "failed"), else_="sent"))
    )
