"""A customer's notifications as the send ledger holds them, newest first, with their deliveries.

Read in pages by keyset: a page holds notifications with an id below `before`, so a page stays
the same however many notifications are recorded meanwhile (new ones have higher ids).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from billing.store.models import Notification, NotificationDelivery

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_ID = 2**31 - 1  # ids are 32-bit integers: a `before` above the largest bounds nothing


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    channel: str  # email | webhook
    status: str  # pending | sending | sent | failed
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    id: int
    customer_id: str
    kind: str
    subject: str
    period: str
    recipient: str
    status: str  # pending | sent | failed | skipped
    due_on: date | None  # the customer's local day it was decided on
    reason: str | None  # why it was skipped
    created_at: datetime
    context: dict[str, Any]
    deliveries: tuple[DeliveryRecord, ...]

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.customer_id}/{self.subject}/{self.period}"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    customer_id: str | None = None  # None: every customer's
    kind: str | None = None
    status: str | None = None
    limit: int = DEFAULT_LIMIT
    before: int | None = None  # only notifications with a lower id: the next page


@dataclass(frozen=True, slots=True)
class HistoryPage:
    notifications: list[NotificationRecord]
    next_before: int | None  # `before` for the next page; None on the last one


def notification_history(connection: sa.Connection, query: HistoryQuery) -> HistoryPage:
    """One page of the matching notifications, newest first (by id), each with its deliveries.
    The query's bounds are the caller's to check (`services.notification_history`)."""
    n = Notification
    statement = sa.select(
        n.id,
        n.customer_id,
        n.kind,
        n.subject,
        n.period,
        n.recipient,
        n.status,
        n.due_on,
        n.reason,
        n.created_at,
        n.context,
    )
    if query.customer_id is not None:
        statement = statement.where(n.customer_id == query.customer_id)
    if query.kind is not None:
        statement = statement.where(n.kind == query.kind)
    if query.status is not None:
        statement = statement.where(n.status == query.status)
    if query.before is not None and query.before <= MAX_ID:  # beyond any id: no bound at all
        statement = statement.where(n.id < query.before)
    rows = connection.execute(statement.order_by(n.id.desc()).limit(query.limit + 1)).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    deliveries = _deliveries(connection, [row.id for row in rows])
    notifications = [
        NotificationRecord(
            id=row.id,
            customer_id=row.customer_id,
            kind=row.kind,
            subject=row.subject,
            period=row.period,
            recipient=row.recipient,
            status=row.status,
            due_on=row.due_on,
            reason=row.reason,
            created_at=row.created_at,
            context=row.context,
            deliveries=tuple(deliveries.get(row.id, ())),
        )
        for row in rows
    ]
    return HistoryPage(notifications, notifications[-1].id if more else None)


def has_notifications(connection: sa.Connection, customer_id: str) -> bool:
    """Whether the ledger holds any notification for the customer, of any kind or status."""
    found = sa.select(Notification.id).where(Notification.customer_id == customer_id).limit(1)
    return connection.execute(found).first() is not None


def _deliveries(connection: sa.Connection, ids: list[int]) -> dict[int, list[DeliveryRecord]]:
    if not ids:
        return {}
    d = NotificationDelivery
    rows = connection.execute(
        sa.select(
            d.notification_id,
            d.channel,
            d.status,
            d.attempts,
            d.last_error,
            d.sent_at,
            d.next_attempt_at,
        )
        .where(d.notification_id.in_(ids))
        .order_by(d.notification_id, d.channel)
    ).all()
    found: dict[int, list[DeliveryRecord]] = defaultdict(list)
    for row in rows:
        found[row.notification_id].append(
            DeliveryRecord(
                row.channel, row.status, row.attempts, row.last_error, row.sent_at, row.next_attempt_at
            )
        )
    return found
