"""`scan_lifecycle`: queue the reminders due on a day and send what the ledger holds."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from billing.runtime import resources
from tasks.artifacts import publish_summary
from tasks.notifications import queue_due_reminders, send_pending_emails


@flow(name="scan-lifecycle")
def scan_lifecycle(as_of: date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Trials ending soon and other reminders due on `as_of` (default: today, UTC)."""
    logger = get_run_logger()
    on = as_of or resources.utc_now().date()
    scan = queue_due_reminders(on, dry_run)
    summary: dict[str, Any] = {
        "as_of": on.isoformat(),
        "dry_run": dry_run,
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
    publish_summary("scan-lifecycle", f"Lifecycle scan for {on.isoformat()}", {"Due reminders": rows})
    return summary
