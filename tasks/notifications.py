"""Notification tasks: find due reminders, send what the ledger holds on every channel."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services.lifecycle_scan import ScanReport, scan_reminders
from billing.services.notification_delivery import DeliveryReport, deliver_all


@task(name="queue-due-reminders", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def queue_due_reminders(as_of: datetime, dry_run: bool, catalog_version: int) -> ScanReport:
    """Decide what fell due by `as_of` from the lifecycle calendar (the catalog is parsed only
    if the calendar is not of the pinned version), queued on every configured channel."""
    channels = resources.notification_channels()
    return scan_reminders(resources.engine(), as_of, resources.utc_now(), dry_run, catalog_version, channels)


@task(name="send-pending-notifications", cache_policy=NO_CACHE)
def send_pending_notifications(limit: int = 500) -> DeliveryReport:
    """Send what the ledger holds, by email and webhook; a failed send waits its backoff and is
    retried by a later run, up to its last try (`report.failure_lines()` says which)."""
    senders = resources.channel_senders()
    return deliver_all(resources.engine(), senders, resources.utc_now, limit)
