"""`ingest_usage`: read a usage source in chunks, validate and store each, report the counts."""

from __future__ import annotations

import logging
from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from billing.core.errors import BillingError, SourceError
from billing.runtime import resources
from billing.services.inbox import CHANGED, NEW, SETTLING, UNCHANGED, InboxCheck
from billing.services.ingest import IngestReport
from billing.services.ingest_examples import first_examples
from billing.services.ingest_pipeline import ChunkOutcome, ingest_in_order
from billing.sources.progress import current_hook
from billing.sources.usage_files import DEFAULT_CHUNK_SIZE, check_readable, expand, read_chunks
from billing.views.tables import example_rows, ingest_rows, reason_rows
from billing.views.validation_tables import validation_tables
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.inbox import check_inbox_file, remember_file
from tasks.ingest import record_run, store_chunk, validate_chunk
from tasks.notifications import send_pending_notifications
from tasks.spend_alerts import evaluate_spend_alerts


@flow(name="ingest-usage")
@fails_in_one_line
def ingest_usage(
    source: str, chunk_size: int = DEFAULT_CHUNK_SIZE, skip_ingested: bool = False
) -> dict[str, Any]:
    """Ingest usage files: JSONL, CSV or Parquet; a file, a folder (every supported file in it,
    subfolders included) or a glob (`var/inbox/*.csv`), local or any fsspec URL.

    Returns the received / accepted / duplicates / quarantined counts, the run's and each
    file's. Files already ingested may be sent again: their events come back as duplicates,
    nothing is billed twice. A file that cannot be read fails alone: it is named with the reason
    in `failed_files`, and the other files are still ingested.

    Each file read whole is remembered in the inbox ledger (path, size, SHA-256, counts). With
    `skip_ingested` (the scheduled inbox), a file unchanged since it was ingested is skipped
    (`skipped_files`), one changed since is reported (`changed_files`) and not read, and one
    modified within `BILLING_INBOX_SETTLE_SECONDS` is left for a later run (`settling_files`):
    its producer may still be writing it.
    """
    logger = get_run_logger()
    started = resources.utc_now()
    stored = resources.catalog()  # pinned: a catalog loaded meanwhile waits for the next run
    files = expand(source)
    if not files:
        logger.info("no file matches %s: nothing to ingest", source)
    report = IngestReport(source)
    per_file, parts = [], []
    skipped: list[str] = []
    changed: list[str] = []
    settling: list[str] = []
    for path in files:
        check = _inbox_check(path, skip_ingested)
        if skip_ingested and check is not None and check.state != NEW:
            waiting = {UNCHANGED: skipped, SETTLING: settling}
            waiting.get(check.state, changed).append(check.describe())
            if check.state == CHANGED:
                logger.warning("%s", check.describe())
            elif check.state == SETTLING:
                logger.info("%s", check.describe())
            continue
        part = _ingest_file(path, chunk_size, stored.id, logger)
        _check_balanced(part)
        report.add(part)
        per_file.append(part.as_dict())
        parts.append((path, part))
        warning = remember_file(check, part.as_dict()) if check and not part.failed_files else None
        if warning is not None:  # remembered only once every chunk committed, unless it changed
            changed.append(warning)
            logger.warning("%s", warning)
    _check_balanced(report)
    notifications = _notify_spend(report.customers, stored.id, logger)
    summary = {
        **report.as_dict(),
        "notifications": notifications,
        "files": per_file,
        "catalog_version": stored.content_hash,
        "skipped": len(skipped),
        "skipped_files": skipped,
        "changed_files": changed,
        "settling_files": settling,
        "examples": first_examples(parts),
    }
    record_run(summary, started)
    tables = {
        "Counts": ingest_rows(summary),
        "Quarantined": reason_rows(summary),
        "First quarantined rows": example_rows(summary),
    }
    if report.failed_files:
        tables["Files not read"] = [["file and reason"], *([line] for line in report.failed_files)]
    if changed:
        tables["Files changed after they were ingested (not read)"] = [["file"], *([c] for c in changed)]
    if settling:
        tables["Files still being written (taken by a later run)"] = [["file"], *([s] for s in settling)]
    if skipped:
        tables["Files skipped (unchanged since ingested)"] = [["file"], *([s] for s in skipped)]
    publish_summary("ingest-usage", f"Ingested {source}, catalog version {stored.content_hash[:12]}", tables)
    publish_summary("ingest-validation", f"Validation of {source}", validation_tables(report.validation))
    return summary


def _notify_spend(
    customers: set[str], catalog_version: int, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> dict[str, int]:
    """Spend alerts for the customers this run stored events for, sent before the run ends, so
    a customer hears within one ingest cycle. A send that fails stays pending for the next run."""
    counts = {"queued": 0, "sent": 0, "failed": 0}
    if not customers:
        return counts
    counts["queued"] = evaluate_spend_alerts(customers, catalog_version).new
    if counts["queued"]:
        try:
            delivery = send_pending_notifications()  # by email, and by webhook when one is set
        except BillingError as error:  # a misconfigured email backend: the alerts wait, queued
            logger.warning("spend alerts queued, not sent: %s", error)
            return counts
        counts["sent"], counts["failed"] = len(delivery.sent), len(delivery.failed)
        for line in delivery.failure_lines():
            logger.warning(line)
    return counts


def _ingest_file(
    path: str, chunk_size: int, catalog_version: int, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> IngestReport:
    """One file's chunks; a file that cannot be read stops here with a one-line reason."""
    report = IngestReport(path)
    progress = current_hook()  # set by the command line on a terminal; silent otherwise
    progress.file_started(path)
    failed: list[ChunkOutcome] = []

    def chunk_done(outcome: ChunkOutcome) -> None:
        if outcome.report is None:
            failed.append(outcome)
            logger.error("%s, chunk %d: not stored: %s", path, outcome.number, outcome.error)
            return
        part = outcome.report
        report.add(part)
        logger.info(
            "%s, chunk %d: %d received, %d accepted, %d duplicates, %d quarantined",
            path,
            outcome.number,
            part.received,
            part.accepted,
            part.duplicates,
            part.quarantined,
        )

    try:
        check_readable(path)
        chunks = read_chunks(path, chunk_size, lambda position: progress.file_advanced(path, position))
        # quote(): Prefect need not walk a chunk's records looking for futures. The store task
        # runs on the flow's thread-pool task runner while this thread validates the next chunk.
        ingest_in_order(
            chunks,
            lambda records: validate_chunk(quote(records), path, catalog_version),  # type: ignore[call-overload]
            lambda prepared: store_chunk.submit(quote(prepared)),  # type: ignore[call-overload]
            chunk_done,
        )
    except SourceError as error:
        report.failed_files.append(str(error))
        logger.warning("%s", error)
    if failed:  # the file's other chunks are stored; the run fails as the first failed chunk did
        progress.file_finished(path, "not stored whole")
        raise failed[0].error  # type: ignore[misc]
    progress.file_finished(path, _file_line(report))
    return report


def _inbox_check(path: str, wait_for_settle: bool) -> InboxCheck | None:
    """The file against the ledger; None if it cannot be read, its retries spent (reading it
    then says why)."""
    try:
        return check_inbox_file(path, wait_for_settle)
    except SourceError:
        return None


def _file_line(report: IngestReport) -> str:
    if report.failed_files:
        return "not read"
    return (
        f"{report.received} received, {report.accepted} accepted, {report.duplicates} duplicates, "
        f"{report.quarantined} quarantined"
    )


def _check_balanced(report: IngestReport) -> None:
    if not report.balanced:  # a bookkeeping bug must never pass silently
        raise RuntimeError(f"counts do not add up: {report.as_dict()}")
