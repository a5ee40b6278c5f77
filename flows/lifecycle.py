"""`scan_lifecycle`: queue the reminders due on a day and send what the ledger holds."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from billing.runtime import resources
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.notifications import queue_due_reminders, send_pending_emails


@flow(name="scan-lifecycle")
@fails_in_one_line
def scan_lifecycle(as_of: date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Trials ending soon and other reminders due on `as_of` (default: today, UTC)."""
    logger = get_run_logger()
    on = as_of or resources.utc_now().date()
    if not dry_run:
        resources.mailer()  # a misconfigured email backend is refused before anything is queued
    stored = resources.catalog()  # pinned for the whole scan
    scan = queue_due_reminders(on, dry_run, stored.id)
    summary: dict[str, Any] = {
        "as_of": on.isoformat(),
        "dry_run": dry_run,
        "catalog_version": stored.content_hash,
        "due": [{"customer_id": r.customer_id, "kind": r.kind, "period": r.period} for r in scan.due],
        "new": scan.new,
        "sent": 0,
        "failed": 0,
    }
    if not dry_run:
        delivery = send_pending_emails()
        summary["sent"], summary["failed"] = len(delivery.sent), len(delivery.failed)
        for key, error in delivery.failed.items():
            logger.warning("not sent, will retry: %s: %s", key, error)
    rows = [
        ["customer", "kind", "period"],
        *([d["customer_id"], d["kind"], d["period"]] for d in summary["due"]),
    ]
    title = f"Lifecycle scan for {on.isoformat()}, catalog version {stored.content_hash[:12]}"
    publish_summary("scan-lifecycle", title, {"Due reminders": rows})
    return summary
