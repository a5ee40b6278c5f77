"""The notification history as a client or an operator reads it: JSON documents and a table.

Instants carry the customer's offset (UTC for a customer no longer in the catalog); `due_on`
is the customer's local day the notification was decided on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from billing.core.local_days import format_day, local_instant
from billing.store.notification_history import DeliveryRecord, HistoryPage, NotificationRecord
from billing.views.tables import text_table

UTC_ZONE = ZoneInfo("UTC")
_ERROR_WIDTH = 60


def _instant(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else local_instant(value, tz).isoformat()


def delivery_document(delivery: DeliveryRecord, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "channel": delivery.channel,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "sent_at": _instant(delivery.sent_at, tz),
        "next_attempt_at": _instant(delivery.next_attempt_at, tz),
    }


def notification_document(record: NotificationRecord, tz: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    return {
        "id": record.id,
        "key": record.key,
        "customer_id": record.customer_id,
        "kind": record.kind,
        "subject": record.subject,
        "period": record.period,
        "status": record.status,
        "due_on": None if record.due_on is None else record.due_on.isoformat(),
        "reason": record.reason,
        "recipient": record.recipient,
        "created_at": _instant(record.created_at, tz),
        "context": record.context,
        "deliveries": [delivery_document(d, tz) for d in record.deliveries],
    }


def history_document(customer_id: str, page: HistoryPage, tz: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """`GET /v1/customers/{id}/notifications`: a page, newest first, and where the next starts."""
    return {
        "customer_id": customer_id,
        "notifications": [notification_document(n, tz) for n in page.notifications],
        "next_before": page.next_before,
    }


def _channels(record: NotificationRecord) -> str:
    """`email sent, webhook pending (2 tries)`; `-` for a skipped notification (none)."""
    shown = []
    for d in record.deliveries:
        tries = f" ({d.attempts} {'try' if d.attempts == 1 else 'tries'})"
        if d.status == "sent" and d.attempts <= 1:
            tries = ""
        shown.append(f"{d.channel} {d.status}{tries}")
    return ", ".join(shown) or "-"


def _last_error(record: NotificationRecord) -> str:
    """The reason a notification was skipped, else its deliveries' last errors, shortened."""
    if record.reason:
        text = record.reason
    else:
        text = "; ".join(f"{d.channel}: {d.last_error}" for d in record.deliveries if d.last_error)
    flat = " ".join(text.split())
    if not flat:
        return "-"
    return flat if len(flat) <= _ERROR_WIDTH else flat[: _ERROR_WIDTH - 1] + "…"


def notification_table(records: Sequence[NotificationRecord], zones: Mapping[str, ZoneInfo]) -> str:
    """One line a notification: its key, kind, status, the customer's local day it was decided
    on, when it was recorded (the customer's local time), each channel's state, the last error
    (or why it was skipped)."""
    header = ["id", "key", "kind", "status", "due on", "created", "deliveries", "last error"]
    body = [
        [
            str(r.id),
            r.key,
            r.kind,
            r.status,
            "-" if r.due_on is None else format_day(r.due_on),
            local_instant(r.created_at, zones.get(r.customer_id, UTC_ZONE)).strftime("%Y-%m-%d %H:%M%z"),
            _channels(r),
            _last_error(r),
        ]
        for r in records
    ]
    return text_table([header, *body], right=(0,))
