"""The send ledger: one row per reminder key; claiming a row is what allows a send.

`(customer, kind, subject, period)` is unique, so a second scan cannot enqueue the same reminder
twice. A row is claimed (pending -> sending) by one worker in one statement; a failed send goes
back to pending with its error and is retried by the next scan; a claim left behind by a crash
is taken back after `STALE_CLAIM`. An invoice's email (`invoice_issued`, its subject the
invoice number) carries the invoice's PDF: it waits, pending, until the PDF is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from billing.core.lifecycle import Reminder
from billing.store.database import dialect_insert
from billing.store.models import InvoiceDocumentRow, InvoiceRow, Notification

STALE_CLAIM = timedelta(minutes=15)
# the kinds whose subject is an invoice or credit note number and whose email carries its PDF
WITH_DOCUMENT_PDF = ("invoice_issued", "credit_note_issued")


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    id: int
    customer_id: str
    kind: str
    subject: str
    period: str
    recipient: str
    context: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.customer_id}/{self.subject}/{self.period}"


def enqueue(connection: sa.Connection, reminders: Iterable[Reminder], now: datetime) -> int:
    """Record reminders as pending; one already in the ledger is left alone. Returns new rows."""
    rows = [
        {
            "customer_id": r.customer_id,
            "kind": r.kind,
            "subject": r.subject,
            "period": r.period,
            "recipient": r.recipient,
            "context": r.context,
            "status": "pending",
            "attempts": 0,
            "created_at": now,
        }
        for r in reminders
    ]
    if not rows:
        return 0
    statement = (
        dialect_insert(connection, Notification)
        .on_conflict_do_nothing(index_elements=["customer_id", "kind", "subject", "period"])
        .returning(Notification.id)
    )
    return len(list(connection.scalars(statement, rows)))


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
    connection: sa.Connection, now: datetime, limit: int = 500, since: datetime | None = None
) -> list[ClaimedNotification]:
    """Take pending rows (and stale claims) for sending; each row goes to one claimant only.

    `since`: leave out rows already tried at or after that instant, so that a sending run
    tries each row once and a run of failures cannot keep it busy forever.
    """
    tried_before = since or now + STALE_CLAIM  # default: any pending row
    claimable = (
        sa.select(Notification.id)
        .where(
            sa.or_(
                sa.and_(
                    Notification.status == "pending",
                    sa.or_(Notification.claimed_at.is_(None), Notification.claimed_at < tried_before),
                ),
                sa.and_(Notification.status == "sending", Notification.claimed_at < now - STALE_CLAIM),
            ),
            sa.or_(Notification.kind.not_in(WITH_DOCUMENT_PDF), _invoice_pdf_stored()),
        )
        .order_by(Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    rows = connection.execute(
        sa.update(Notification)
        .where(Notification.id.in_(claimable.scalar_subquery()))
        .values(status="sending", claimed_at=now, attempts=Notification.attempts + 1)
        .returning(
            Notification.id,
            Notification.customer_id,
            Notification.kind,
            Notification.subject,
            Notification.period,
            Notification.recipient,
            Notification.context,
        )
    ).all()
    return sorted((ClaimedNotification(*row) for row in rows), key=lambda n: n.id)


def _invoice_pdf_stored() -> sa.Exists:
    return (
        sa.select(InvoiceDocumentRow.invoice_id)
        .join(InvoiceRow, InvoiceRow.id == InvoiceDocumentRow.invoice_id)
        .where(InvoiceRow.number == Notification.subject)
        .exists()
    )


def mark_sent(connection: sa.Connection, notification_id: int, message_id: str, now: datetime) -> None:
    connection.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id)
        .values(status="sent", sent_at=now, message_id=message_id, last_error=None)
    )


def mark_failed(connection: sa.Connection, notification_id: int, error: str) -> None:
    """Back to pending, to be tried again by a later run; `claimed_at` keeps when it was tried."""
    connection.execute(
        sa.update(Notification)
        .where(Notification.id == notification_id)
        .values(status="pending", last_error=error[:2000])
    )
