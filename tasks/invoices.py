"""Invoice tasks: rate and store a chunk of customers; queue the emails of finalized invoices."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.services.invoice_run import InvoiceRunReport, invoice_customers


@task(name="invoice-customers", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def invoice_chunk(
    customer_ids: list[str], as_of: datetime, dry_run: bool, catalog_version: int
) -> InvoiceRunReport:
    """Draft and finalize what is due for a chunk of customers, in one transaction, rated with
    the run's catalog version."""
    settings = get_settings()
    return invoice_customers(
        resources.engine(),
        resources.pinned_catalog(catalog_version),
        customer_ids,
        as_of,
        grace=timedelta(hours=settings.invoice_grace_hours),
        due_days=settings.invoice_due_days,
        now=resources.utc_now(),
        dry_run=dry_run,
        email_zero_invoices=settings.email_zero_invoices,
        channels=resources.notification_channels(settings),
    )
