"""The email channel: a claimed notification rendered (Jinja2) and handed to the email backend.

An invoice's or a credit note's email attaches its stored PDF (the ledger lets it be claimed
only once that PDF is stored), so the customer gets the very bytes the API and the CLI hand out.
Runs send every configured channel through `notification_delivery`."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from billing.core.errors import BillingError
from billing.notify.backends import Attachment, EmailBackend, EmailMessage
from billing.notify.rendering import render_email
from billing.store.invoice_documents import stored_pdf_for_number
from billing.store.send_ledger import EMAIL, WITH_DOCUMENT_PDF, ClaimedNotification


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
