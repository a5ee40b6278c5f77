"""`backfill`: re-rate finalized periods with today's usage and correct each difference once."""

from __future__ import annotations

from datetime import date

from prefect import flow, get_run_logger

from billing.core.backfill import BackfillReport
from billing.core.errors import BillingError, UnknownCustomer
from billing.runtime import resources
from billing.services.invoice_run import check_nothing_missing
from billing.views.tables import backfill_headline, backfill_rows
from flows.invoices import render_documents
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.backfill import backfill_chunk
from tasks.notifications import send_pending_notifications

CUSTOMERS_PER_TASK = 500


class BadBackfillWindow(BillingError):
    code = "bad_backfill_window"


@flow(name="backfill")
@fails_in_one_line
def backfill(
    start: date,
    end: date,
    customer_ids: list[str] | None = None,
    catalog_version: str | None = None,
    dry_run: bool = True,
) -> BackfillReport:
    """Re-rate every finalized period whose first local day lies in [start, end) with the usage
    stored today, and show per customer and line what was billed, what should have been and the
    difference. Each period is rated with the catalog version its invoices were rated with, or
    with `catalog_version` (a content hash, 8 hex digits or more). Unless `dry_run`, each
    difference is corrected once: an undercharge as an adjustment line on the customer's next
    invoice, an overcharge on a credit note of the invoice that billed it (its PDF rendered and
    its email sent once the corrections are stored). Running it again corrects nothing."""
    logger = get_run_logger()
    if start >= end:
        raise BadBackfillWindow(f"backfill window {start} .. {end} is empty: start must be before end")
    active = resources.catalog().catalog
    ids = list(dict.fromkeys(customer_ids)) if customer_ids else [c.id for c in active.customers]
    unknown = [cid for cid in ids if cid not in active.customers_by_id]
    if unknown:
        raise UnknownCustomer(f"unknown customer(s): {', '.join(unknown)}")
    named = resources.named_catalog(catalog_version) if catalog_version else None
    check_nothing_missing(resources.engine(), ids)  # what was billed must be whole to compare
    report = BackfillReport(dry_run)
    for first in range(0, len(ids), CUSTOMERS_PER_TASK):
        chunk = ids[first : first + CUSTOMERS_PER_TASK]
        report.add(backfill_chunk(chunk, start, end, named.id if named else None, dry_run))
        logger.info("backfilled %d of %d customers", min(first + CUSTOMERS_PER_TASK, len(ids)), len(ids))
    if any(line.credit_note for line in report.lines):  # the credit notes' PDFs, then their emails
        render_documents()
        for line in send_pending_notifications().failure_lines():
            logger.warning(line)
    title = f"Backfill of periods starting {start} .. {end} (exclusive)" + (" (dry run)" if dry_run else "")
    title += f", catalog version {named.content_hash[:12]}" if named else ", each invoice's catalog version"
    publish_summary("backfill", title, {backfill_headline(report): backfill_rows(report.lines, dry_run)})
    return report
