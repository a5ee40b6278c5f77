"""The email channel: a claimed notification rendered (Jinja2) and handed to the email backend.

An invoice's or a credit note's email attaches its stored PDF (the ledger lets it be claimed
only once that PDF is stored), so the customer gets the very bytes the API and the CLI hand out.
`deliver_pending` and `deliver_all` here send the email channel alone (tests, benchmarks);
runs send every configured channel through `notification_delivery`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.errors import BillingError
from billing.notify.backends import Attachment, EmailBackend, EmailMessage
from billing.notify.rendering import render_email
from billing.services import notification_delivery
from billing.services.notification_delivery import DeliveryReport
from billing.store.invoice_documents import stored_pdf_for_number
from billing.store.send_ledger import EMAIL, WITH_DOCUMENT_PDF, ClaimedNotification

__all__ = ["DeliveryReport", "EmailChannel", "deliver_all", "deliver_pending"]


class EmailChannel:
    channel = EMAIL

    def __init__(self, backend: EmailBackend, sender: str) -> None:
        self.backend = backend
        self.sender = sender

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        email = render_email(notification.kind, notification.context)
        return self.backend.send(
            EmailMessage(
                to=notification.recipient,
                subject=email.subject,
                text=email.text,
                html=email.html,
                sender=self.sender,
                key=notification.key,
                attachments=_attachments(engine, notification),
            )
        )


def _attachments(engine: Engine, notification: ClaimedNotification) -> tuple[Attachment, ...]:
    if notification.kind not in WITH_DOCUMENT_PDF:
        return ()
    number = notification.subject
    with engine.connect() as connection:
        pdf = stored_pdf_for_number(connection, number)
    if pdf is None:  # claimed only once stored, and a stored PDF is never deleted
        raise BillingError(f"the PDF of {number} is not stored")
    return (Attachment(f"{number}.pdf", pdf, "application/pdf"),)


def deliver_pending(
    engine: Engine,
    backend: EmailBackend,
    sender: str,
    now: datetime,
    limit: int = 500,
    since: datetime | None = None,
) -> DeliveryReport:
    """Send up to `limit` pending emails (the email channel only)."""
    return notification_delivery.deliver_pending(engine, [EmailChannel(backend, sender)], now, limit, since)


def deliver_all(
    engine: Engine, backend: EmailBackend, sender: str, clock: Callable[[], datetime], batch: int = 500
) -> DeliveryReport:
    """Send every pending email (the email channel only), each tried once in this run."""
    return notification_delivery.deliver_all(engine, [EmailChannel(backend, sender)], clock, batch)
