"""`scan_lifecycle`: queue the reminders due at an instant and send what the ledger holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, get_run_logger

from billing.core.as_of import as_of_instant
from billing.core.local_days import format_day
from billing.runtime import resources
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.notifications import queue_due_reminders, send_pending_notifications
from tasks.spend_alerts import evaluate_alerts_since_last


@flow(name="scan-lifecycle")
@fails_in_one_line
def scan_lifecycle(as_of: date | datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Trials ending soon and other reminders due at `as_of` (a date means the end of that
    day, UTC; none: now), each customer judged on its own local day at that instant."""
    logger = get_run_logger()
    instant = as_of_instant(as_of, resources.utc_now())
    if not dry_run:
        resources.mailer()  # a misconfigured email backend is refused before anything is queued
    stored = resources.catalog()  # pinned for the whole scan
    scan = queue_due_reminders(instant, dry_run, stored.id)
    # the spend and credit kinds, after the date kinds: only customers with usage or invoices since
    spend = evaluate_alerts_since_last(instant, dry_run, stored.id)
    summary: dict[str, Any] = {
        "as_of": instant.isoformat(),
        "dry_run": dry_run,
        "catalog_version": stored.content_hash,
        "due": [
            {
                "customer_id": r.customer_id,
                "kind": r.kind,
                "day": None if r.on is None else r.on.isoformat(),
                "period": r.period,
            }
            for r in (*scan.due, *spend.due)
        ],
        "new": scan.new + spend.new,
        "sent": 0,
        "failed": 0,
    }
    if not dry_run:
        delivery = send_pending_notifications()  # by email, and by webhook when one is set
        summary["sent"], summary["failed"] = len(delivery.sent), len(delivery.failed)
        for line in delivery.failure_lines():
            logger.warning(line)
    rows = [["customer", "kind", "customer's day", "about"]]
    for due in summary["due"]:
        day = format_day(due["day"]) if due["day"] else ""
        rows.append([due["customer_id"], due["kind"], day, due["period"]])
    title = f"Lifecycle scan as of {instant.isoformat()}, catalog version {stored.content_hash[:12]}"
    publish_summary("scan-lifecycle", title, {"Due reminders": rows})
    return summary
