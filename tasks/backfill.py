"""Backfill task: re-rate and correct a chunk of customers' finalized periods."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.core.backfill import BackfillReport
from billing.runtime import resources
from billing.services.backfill import backfill_customers


@task(name="backfill-customers", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def backfill_chunk(
    customer_ids: list[str], start: date, end: date, catalog_version: int | None, dry_run: bool
) -> BackfillReport:
    """One chunk in one transaction: re-rated with `catalog_version` (None: each invoice's own),
    corrected unless a dry run. A retry finds what the failed attempt left: nothing, or all."""
    stored = None if catalog_version is None else resources.pinned_catalog(catalog_version)
    return backfill_customers(
        resources.engine(),
        customer_ids,
        start,
        end,
        catalog=stored,
        now=resources.utc_now(),
        dry_run=dry_run,
        channels=resources.notification_channels(),
    )
