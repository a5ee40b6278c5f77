"""`scan_lifecycle`: decide the notices due at an instant, queue them, send what the ledger holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, get_run_logger

from billing.core.as_of import as_of_instant
from billing.core.lifecycle import Reminder
from billing.runtime import resources
from billing.views.tables import notice_rows
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.notifications import queue_due_reminders, send_pending_notifications
from tasks.spend_alerts import evaluate_alerts_since_last


@flow(name="scan-lifecycle")
@fails_in_one_line
def scan_lifecycle(as_of: date | datetime | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Trials ending and ended, renewals coming and done, contracts ending, due at `as_of` (a
    date means the end of that day, UTC; none: now), each customer judged on its own local day
    at that instant. A notice whose day passed while no scan ran is sent late if the thing it
    announces is still ahead, else recorded as skipped."""
    logger = get_run_logger()
    instant = as_of_instant(as_of, resources.utc_now())
    if not dry_run:
        resources.mailer()  # a misconfigured email backend is refused before anything is queued
    pinned = resources.catalog_pin()  # named, not parsed: the scan reads the lifecycle calendar
    scan = queue_due_reminders(instant, dry_run, pinned.id)
    # the spend and credit kinds, after the date kinds: only customers with usage or invoices since
    spend = evaluate_alerts_since_last(instant, dry_run, pinned.id)
    summary: dict[str, Any] = {
        "as_of": instant.isoformat(),
        "dry_run": dry_run,
        "catalog_version": pinned.content_hash,
        "due": [_listed(r) for r in (*scan.due, *spend.due)],
        "skipped": [_listed(r) for r in scan.skipped],
        "new": scan.new + spend.new,
        "new_skipped": scan.new_skipped,
        "sent": 0,  # deliveries, every channel's: `emails` and `webhooks` tell them apart
        "failed": 0,
        "emails": {"sent": 0, "failed": 0, "failed_for_good": 0, "held_back": 0},
        "webhooks": {"sent": 0, "failed": 0, "failed_for_good": 0, "held_back": 0},
    }
    if not dry_run:
        delivery = send_pending_notifications()  # by email, and by webhook when one is set
        summary["sent"], summary["failed"] = len(delivery.sent), len(delivery.failed)
        summary["emails"], summary["webhooks"] = delivery.counts("email"), delivery.counts("webhook")
        for line in delivery.failure_lines():
            logger.warning(line)
    title = f"Lifecycle scan as of {instant.isoformat()}, catalog version {pinned.content_hash[:12]}"
    tables = {"Due notices": notice_rows(summary["due"])}
    if summary["skipped"]:
        tables["Skipped: too late to send"] = notice_rows(summary["skipped"])
    publish_summary("scan-lifecycle", title, tables)
    return summary


def _listed(reminder: Reminder) -> dict[str, Any]:
    return {
        "customer_id": reminder.customer_id,
        "kind": reminder.kind,
        "recipient": reminder.recipient,
        "day": None if reminder.on is None else reminder.on.isoformat(),
        "subject": reminder.subject,
        "period": reminder.period,
    }
