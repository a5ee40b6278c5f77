"""`ingest_usage`: read a usage source in chunks, validate and store each, report the counts."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from billing.runtime import resources
from billing.services.ingest import IngestReport
from billing.sources.usage_files import DEFAULT_CHUNK_SIZE, check_readable, expand, read_chunks
from billing.views.tables import ingest_rows, reason_rows
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.ingest import ingest_chunk, record_run


@flow(name="ingest-usage")
@fails_in_one_line
def ingest_usage(source: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, Any]:
    """Ingest JSONL usage: a file, an fsspec URL or a glob of them (`var/inbox/*.jsonl`).

    Returns the received / accepted / duplicates / quarantined counts. Files already ingested
    may be sent again: their events come back as duplicates, nothing is billed twice.
    """
    logger = get_run_logger()
    started = resources.utc_now()
    stored = resources.catalog()  # pinned: a catalog loaded meanwhile waits for the next run
    files = expand(source)
    if not files:
        logger.info("no file matches %s: nothing to ingest", source)
    report = IngestReport(source)
    for path in files:
        check_readable(path)
        for number, records in enumerate(read_chunks(path, chunk_size), start=1):
            # quote(): Prefect need not walk a chunk's records looking for futures
            part = ingest_chunk(quote(records), path, stored.id)  # type: ignore[call-overload]
            report.add(part)
            logger.info(
                "%s, chunk %d: %d received, %d accepted, %d duplicates, %d quarantined",
                path,
                number,
                part.received,
                part.accepted,
                part.duplicates,
                part.quarantined,
            )
    if not report.balanced:  # a bookkeeping bug must never pass silently
        raise RuntimeError(f"counts do not add up: {report.as_dict()}")
    summary = report.as_dict() | {"catalog_version": stored.content_hash}
    record_run(summary, started)
    publish_summary(
        "ingest-usage",
        f"Ingested {source}, catalog version {stored.content_hash[:12]}",
        {"Counts": ingest_rows(summary), "Quarantined": reason_rows(summary)},
    )
    return summary
