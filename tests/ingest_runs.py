"""Ingesting a file's chunks without Prefect, as the flow does (`ingest_in_order`, stores on a
background thread): for tests that crash or race an ingest in a plain process."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.services.ingest import prepare_chunk, store_chunk
from billing.services.ingest_pipeline import ChunkOutcome, ingest_in_order
from billing.sources.usage_files import RawRecord
from billing.validation.suite import EventSuite


def ingest_chunks(
    engine: Engine,
    catalog: Catalog,
    suite: EventSuite,
    chunks: Iterable[list[RawRecord]],
    source: str,
    now: datetime,
) -> list[ChunkOutcome]:
    """`ingest_in_order` without Prefect: the stores on one background thread, the outcomes
    in file order."""
    outcomes: list[ChunkOutcome] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-chunk") as storing:
        ingest_in_order(
            chunks,
            lambda records: prepare_chunk(catalog, suite, records, source, now),
            lambda prepared: storing.submit(store_chunk, engine, prepared),
            outcomes.append,
        )
    return outcomes
