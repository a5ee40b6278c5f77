"""Ingestion tasks: a validate and a store task run per chunk of records, never per event
(`flows/ingest.py` overlaps one chunk's store with the next one's validation)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from billing.runtime import resources
from billing.services import ingest
from billing.services.ingest import IngestReport, PreparedChunk, prepare_chunk
from billing.sources.usage_files import RawRecord
from billing.store.usage_events import record_ingest_run


@task(name="validate-chunk", cache_policy=NO_CACHE)
def validate_chunk(records: list[RawRecord], source: str, catalog_version: int) -> PreparedChunk:
    """Python's half of a chunk, against the run's catalog version: parse, the expectation
    suite, what storing needs; no database write."""
    stored = resources.pinned_catalog(catalog_version)
    return prepare_chunk(stored.catalog, resources.event_suite(), records, source, resources.utc_now())


@task(name="store-chunk", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def store_chunk(prepared: PreparedChunk) -> IngestReport:
    """The database's half, in one transaction; re-running it is harmless (transaction ids
    dedupe, and it starts again from the validated chunk every time)."""
    return ingest.store_chunk(resources.engine(), prepared)


@task(name="record-ingest-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=5)
def record_run(counts: dict[str, Any], started: datetime) -> None:
    """Keep the run's counts in `ingest_runs`."""
    with resources.engine().begin() as connection:
        record_ingest_run(connection, counts, started, resources.utc_now())
