"""Reading the notification history (SPEC §9): what the ledger decided for a customer, and how
each channel's delivery went. The one place that checks what a history query may ask."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from billing.core.errors import InvalidHistoryQuery, UnknownCustomer
from billing.core.notification_kinds import NOTIFICATION_KINDS, NOTIFICATION_STATUSES
from billing.store.notification_history import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    HistoryPage,
    HistoryQuery,
    has_notifications,
    notification_history,
)


def history_query(
    customer_id: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
    before: int | None = None,
) -> HistoryQuery:
    """A query, or `InvalidHistoryQuery` naming the one value it cannot take."""
    if kind is not None and kind not in NOTIFICATION_KINDS:
        raise InvalidHistoryQuery(f"kind: unknown kind {kind!r} (one of {', '.join(NOTIFICATION_KINDS)})")
    if status is not None and status not in NOTIFICATION_STATUSES:
        raise InvalidHistoryQuery(
            f"status: unknown status {status!r} (one of {', '.join(NOTIFICATION_STATUSES)})"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidHistoryQuery(f"limit: must be from 1 to {MAX_LIMIT} (got {limit})")
    if before is not None and before < 1:
        raise InvalidHistoryQuery(f"before: must be a notification id, at least 1 (got {before})")
    return HistoryQuery(customer_id, kind, status, limit, before)


def history(engine: Engine, query: HistoryQuery, known: bool = True) -> HistoryPage:
    """One page of the history; for a customer neither `known` (in the catalog) nor in the
    ledger, `UnknownCustomer`."""
    with engine.connect() as connection:
        page = notification_history(connection, query)
        unheard = None if known or page.notifications else query.customer_id
        if unheard is not None and not has_notifications(connection, unheard):
            raise UnknownCustomer.named(unheard)
    return page
