"""`billing notifications list`: the send ledger's history, newest first, as an operator reads it.

Only reads the database (no Prefect). Days and times are the customer's (the active catalog's
time zones; UTC for a customer no longer in it)."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from billing.runtime import resources


def notifications_list(
    customer_id: str | None,
    kind: str | None,
    status: str | None,
    limit: int,
    before: int | None,
    as_json: bool,
) -> str:
    from billing.services.notification_history import history, history_query
    from billing.views.notification_history import (
        UTC_ZONE,
        notification_document,
        notification_table,
    )

    query = history_query(customer_id, kind, status, limit, before)
    engine = resources.engine()
    zones = _zones(engine)
    page = history(engine, query, known=customer_id is None or customer_id in zones)
    if as_json:
        documents = [notification_document(n, zones.get(n.customer_id, UTC_ZONE)) for n in page.notifications]
        return json.dumps({"notifications": documents, "next_before": page.next_before})
    if not page.notifications:
        return "no notifications match"
    count = len(page.notifications)
    head = f"{count} notification{'s' * (count != 1)}, newest first:"
    lines = [head, notification_table(page.notifications, zones)]
    if page.next_before is not None:
        lines.append(f"older ones: billing notifications list --before {page.next_before} (same filters)")
    return "\n".join(lines)


def _zones(engine: Engine) -> dict[str, ZoneInfo]:
    """Each catalog customer's time zone; none before a catalog is loaded."""
    from billing.store.catalog_versions import NoCatalog, active_catalog

    try:
        with engine.connect() as connection:
            catalog = active_catalog(connection).catalog
    except NoCatalog:
        return {}
    return {customer.id: customer.tz for customer in catalog.customers}
