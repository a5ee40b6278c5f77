"""The webhook channel: a claimed notification as a Standard Webhooks event.

Its data is the notification's context with the customer's id first (an invoice's or a credit
note's is its document, SPEC §8); its id the ledger key; its timestamp when the ledger decided it.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from billing.notify.webhooks import WebhookEvent, WebhookSender
from billing.store.send_ledger import WEBHOOK, ClaimedNotification


def webhook_event(notification: ClaimedNotification) -> WebhookEvent:
    return WebhookEvent(
        key=notification.key,
        kind=notification.kind,
        decided_at=notification.created_at,
        data={"customer_id": notification.customer_id, **notification.context},
    )


class WebhookChannel:
    channel = WEBHOOK

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    def send(self, engine: Engine, notification: ClaimedNotification) -> str:
        return self.sender.send(webhook_event(notification))
