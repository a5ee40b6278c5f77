"""`ingest_usage`: read a usage source in chunks, validate and store each, report the counts."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from billing.core.errors import SourceError
from billing.runtime import resources
from billing.services.ingest import IngestReport
from billing.sources.usage_files import DEFAULT_CHUNK_SIZE, check_readable, expand, read_chunks
from billing.views.tables import ingest_rows, reason_rows
from billing.views.validation_tables import validation_tables
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.ingest import ingest_chunk, record_run


@flow(name="ingest-usage")
@fails_in_one_line
def ingest_usage(source: str, chunk_size: int = DEFAULT_CHUNK_SIZE) -> dict[str, Any]:
    """Ingest JSONL usage: a file, an fsspec URL or a glob of them (`var/inbox/*.jsonl`).

    Returns the received / accepted / duplicates / quarantined counts, the run's and each
    file's. Files already ingested may be sent again: their events come back as duplicates,
    nothing is billed twice. A file that cannot be read fails alone: it is named with the reason
    in `failed_files`, and the other files are still ingested.
    """
    logger = get_run_logger()
    started = resources.utc_now()
    stored = resources.catalog()  # pinned: a catalog loaded meanwhile waits for the next run
    files = expand(source)
    if not files:
        logger.info("no file matches %s: nothing to ingest", source)
    report = IngestReport(source)
    per_file = []
    for path in files:
        part = _ingest_file(path, chunk_size, stored.id, logger)
        _check_balanced(part)
        report.add(part)
        per_file.append(part.as_dict())
    _check_balanced(report)
    summary = {**report.as_dict(), "files": per_file, "catalog_version": stored.content_hash}
    record_run(summary, started)
    tables = {"Counts": ingest_rows(summary), "Quarantined": reason_rows(summary)}
    if report.failed_files:
        tables["Files not read"] = [["file and reason"], *([line] for line in report.failed_files)]
    publish_summary("ingest-usage", f"Ingested {source}, catalog version {stored.content_hash[:12]}", tables)
    publish_summary("ingest-validation", f"Validation of {source}", validation_tables(report.validation))
    return summary


def _ingest_file(
    path: str, chunk_size: int, catalog_version: int, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> IngestReport:
    """One file's chunks; a file that cannot be read stops here with a one-line reason."""
    report = IngestReport(path)
    try:
        check_readable(path)
        for number, records in enumerate(read_chunks(path, chunk_size), start=1):
            # quote(): Prefect need not walk a chunk's records looking for futures
            part = ingest_chunk(quote(records), path, catalog_version)  # type: ignore[call-overload]
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
    except SourceError as error:
        report.failed_files.append(str(error))
        logger.warning("%s", error)
    return report


def _check_balanced(report: IngestReport) -> None:
    if not report.balanced:  # a bookkeeping bug must never pass silently
        raise RuntimeError(f"counts do not add up: {report.as_dict()}")
