"""Spend and credit alert tasks: evaluate what ingest runs, invoice runs and the scan changed."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services.spend_alerts import (
    SpendReport,
    evaluate_credits,
    evaluate_spend,
    evaluate_spend_since_last,
)


@task(name="evaluate-spend-alerts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def evaluate_spend_alerts(customer_ids: Collection[str], catalog_version: int) -> SpendReport:
    """The spend alerts and forecasts of customers whose usage was just stored, as of now."""
    catalog = resources.pinned_catalog(catalog_version).catalog
    now = resources.utc_now()
    channels = resources.notification_channels()
    return evaluate_spend(resources.engine(), catalog, sorted(customer_ids), now, now, channels=channels)


@task(name="evaluate-credit-alerts", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def evaluate_credit_alerts(
    customer_ids: Collection[str], as_of: datetime, catalog_version: int
) -> SpendReport:
    """Prepaid grants running low for customers whose invoices were just finalized."""
    catalog = resources.pinned_catalog(catalog_version).catalog
    channels = resources.notification_channels()
    return evaluate_credits(
        resources.engine(), catalog, sorted(customer_ids), as_of, resources.utc_now(), channels=channels
    )


@task(name="evaluate-spend-since-last", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def evaluate_alerts_since_last(as_of: datetime, dry_run: bool, catalog_version: int) -> SpendReport:
    """The daily scan's spend and credit kinds: only customers with usage or invoices since
    their last evaluation (or a new period)."""
    catalog = resources.pinned_catalog(catalog_version).catalog
    channels = resources.notification_channels()
    return evaluate_spend_since_last(
        resources.engine(), catalog, as_of, resources.utc_now(), dry_run, channels
    )
