"""Notification tasks: find due reminders, send what the ledger holds."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.services.email_delivery import DeliveryReport, deliver_all
from billing.services.lifecycle_scan import ScanReport, scan_reminders


@task(name="queue-due-reminders", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def queue_due_reminders(as_of: datetime, dry_run: bool, catalog_version: int) -> ScanReport:
    """Decide what fell due by `as_of` from the lifecycle calendar (the catalog is parsed only
    if the calendar is not of the pinned version)."""
    return scan_reminders(resources.engine(), as_of, resources.utc_now(), dry_run, catalog_version)


@task(name="send-pending-emails", cache_policy=NO_CACHE)
def send_pending_emails(limit: int = 500) -> DeliveryReport:
    """Send what the ledger holds; a failed send stays pending for the next run."""
    settings = get_settings()
    mailer = resources.mailer(settings)
    return deliver_all(resources.engine(), mailer, settings.email_from, resources.utc_now, limit)
