"""The email channel: a claimed notification rendered (Jinja2) and handed to the email backend.

An invoice's or a credit note's email attaches its stored PDF (the ledger lets it be claimed
only once that PDF is stored), so the customer gets the very bytes the API and the CLI hand out.
With `console_links` (a console secret and a public URL are set), every email also offers a
link to the customer's console, signed as it is sent (`billing.services.console_links`).
Runs send every configured channel through `notification_delivery`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from billing.core.errors import BillingError
from billing.notify.backends import Attachment, EmailBackend, EmailMessage
from billing.notify.rendering import render_email
from billing.services.console_links import ConsoleLinks
from billing.store.invoice_documents import stored_pdf_for_number
from billing.store.send_ledger import EMAIL, WITH_DOCUMENT_PDF, ClaimedNotification


class EmailChannel:
    channel = EMAIL

    def __init__(
        self,
        backend: EmailBackend,
        sender: str,
        console_links: ConsoleLinks | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.backend = backend
        self.sender = sender
        self.console_links = console_links
        self.clock = clock

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        link = None
        if self.console_links is not None:  # signed now: it works for its days from this send
            link = self.console_links.link(notification.customer_id, self.clock())
        email = render_email(notification.kind, notification.context, link)
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
