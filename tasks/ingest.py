"""Ingestion tasks: one task run per chunk of records, never per event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services.ingest import IngestReport, ingest_records
from billing.sources.usage_files import RawRecord
from billing.store.usage_events import record_ingest_run


@task(name="ingest-chunk", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def ingest_chunk(records: list[RawRecord], source: str, catalog_version: int) -> IngestReport:
    """Validate and store one chunk against the run's catalog version; re-running it is
    harmless (transaction ids dedupe)."""
    stored = resources.pinned_catalog(catalog_version)
    return ingest_records(
        resources.engine(), stored.catalog, resources.event_suite(), records, source, resources.utc_now()
    )


@task(name="record-ingest-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def record_run(counts: dict[str, Any], started: datetime) -> None:
    """Keep the run's counts in `ingest_runs`."""
    with resources.engine().begin() as connection:
        record_ingest_run(connection, counts, started, resources.utc_now())
