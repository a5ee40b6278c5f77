"""`ingest_usage`: read a usage source in chunks, validate and store each, report the counts."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from billing.ingest import IngestReport
from billing.reports import ingest_rows, reason_rows
from billing.sources import DEFAULT_CHUNK_SIZE, check_readable, read_chunks
from tasks.artifacts import publish_summary
from tasks.ingest import ingest_chunk


@flow(name="ingest-usage")
def ingest_usage(source: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, Any]:
    """Ingest a JSONL file (local path or fsspec URL); returns received/accepted/... counts."""
    logger = get_run_logger()
    check_readable(source)
    report = IngestReport(source)
    for number, records in enumerate(read_chunks(source, chunk_size), start=1):
        # quote(): Prefect need not walk a chunk's records looking for futures
        part = ingest_chunk(quote(records), source)  # type: ignore[call-overload]
        report.add(part)
        logger.info(
            "chunk %d: %d received, %d accepted, %d duplicates, %d quarantined",
            number,
            part.received,
            part.accepted,
            part.duplicates,
            part.quarantined,
        )
    if not report.balanced:  # a bookkeeping bug must never pass silently
        raise RuntimeError(f"counts do not add up: {report.as_dict()}")
    summary = report.as_dict()
    publish_summary(
        "ingest-usage",
        f"Ingested {source}",
        {"Counts": ingest_rows(summary), "Quarantined": reason_rows(summary)},
    )
    return summary
