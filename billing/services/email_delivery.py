"""Sending what the ledger holds: claim, render, send, record; failures stay pending.

An invoice's or a credit note's email attaches its stored PDF (the ledger lets it be claimed
only once that PDF is stored), so the customer gets the very bytes the API and the CLI hand out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.errors import BillingError
from billing.notify.backends import Attachment, EmailBackend, EmailMessage
from billing.notify.rendering import render_email
from billing.store import send_ledger
from billing.store.invoice_documents import stored_pdf_for_number
from billing.store.send_ledger import WITH_DOCUMENT_PDF, ClaimedNotification


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)  # ledger keys
    failed: dict[str, str] = field(default_factory=dict)  # ledger key -> error

    def add(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.failed.update(other.failed)
        return self


def deliver_pending(
    engine: Engine,
    backend: EmailBackend,
    sender: str,
    now: datetime,
    limit: int = 500,
    since: datetime | None = None,
) -> DeliveryReport:
    """Send up to `limit` pending notifications, each claimed before it is sent; rows tried at
    or after `since` (this sending run) are left for the next run."""
    report = DeliveryReport()
    with engine.begin() as connection:
        claimed = send_ledger.claim(connection, now, limit, since)
    for notification in claimed:
        try:
            email = render_email(notification.kind, notification.context)
            message_id = backend.send(
                EmailMessage(
                    to=notification.recipient,
                    subject=email.subject,
                    text=email.text,
                    html=email.html,
                    sender=sender,
                    key=notification.key,
                    attachments=_attachments(engine, notification),
                )
            )
        except Exception as error:
            with engine.begin() as connection:
                send_ledger.mark_failed(connection, notification.delivery_id, str(error))
            report.failed[notification.key] = str(error)
            continue
        with engine.begin() as connection:
            send_ledger.mark_sent(connection, notification.delivery_id, message_id, now)
        report.sent.append(notification.key)
    return report


def _attachments(engine: Engine, notification: ClaimedNotification) -> tuple[Attachment, ...]:
    if notification.kind not in WITH_DOCUMENT_PDF:
        return ()
    number = notification.subject
    with engine.connect() as connection:
        pdf = stored_pdf_for_number(connection, number)
    if pdf is None:  # claimed only once stored, and a stored PDF is never deleted
        raise BillingError(f"the PDF of {number} is not stored")
    return (Attachment(f"{number}.pdf", pdf, "application/pdf"),)


def deliver_all(
    engine: Engine, backend: EmailBackend, sender: str, clock: Callable[[], datetime], batch: int = 500
) -> DeliveryReport:
    """Send everything pending, batch by batch, trying each notification once in this run."""
    report = DeliveryReport()
    started = clock()
    while True:
        sent = deliver_pending(engine, backend, sender, clock(), batch, since=started)
        report.add(sent)
        if len(sent.sent) + len(sent.failed) < batch:
            return report
