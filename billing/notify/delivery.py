"""Sending what the ledger holds: claim, render, send, record; failures stay pending."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.notify.backends import EmailBackend, EmailMessage
from billing.notify.rendering import render_email
from billing.store import send_ledger


@dataclass
class DeliveryReport:
    sent: list[str] = field(default_factory=list)  # ledger keys
    failed: dict[str, str] = field(default_factory=dict)  # ledger key -> error

    def add(self, other: DeliveryReport) -> DeliveryReport:
        self.sent += other.sent
        self.failed.update(other.failed)
        return self


def deliver_pending(
    engine: Engine, backend: EmailBackend, sender: str, now: datetime, limit: int = 500
) -> DeliveryReport:
    """Send up to `limit` pending notifications; each one is claimed before it is sent."""
    report = DeliveryReport()
    with engine.begin() as connection:
        claimed = send_ledger.claim(connection, now, limit)
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
                )
            )
        except Exception as error:
            with engine.begin() as connection:
                send_ledger.mark_failed(connection, notification.id, str(error))
            report.failed[notification.key] = str(error)
            continue
        with engine.begin() as connection:
            send_ledger.mark_sent(connection, notification.id, message_id, now)
        report.sent.append(notification.key)
    return report
