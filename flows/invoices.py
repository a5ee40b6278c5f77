"""`run_invoices`: rate every customer's due periods as of an instant, finalize, print, email.

Invoice chunks → PDF chunks (spread over the flow's task runner) → the pending emails, each
with its invoice's stored PDF attached; an email whose PDF is not stored yet waits for the next
run."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, overload

from prefect import flow, get_run_logger
from prefect.task_runners import ProcessPoolTaskRunner

from billing.core.as_of import as_of_instant, check_issuable
from billing.core.errors import RunIncomplete, UnknownCustomer
from billing.runtime import resources
from billing.services.invoice_documents import DocumentReport
from billing.services.invoice_run import InvoiceRunReport, check_nothing_missing
from billing.views.tables import invoice_rows
from flows.unwalked import unwalked
from flows.user_errors import fails_in_one_line
from tasks.artifacts import publish_summary
from tasks.documents import find_invoices_to_render, render_invoice_pdfs
from tasks.invoices import invoice_chunk
from tasks.notifications import send_pending_notifications
from tasks.spend_alerts import evaluate_credit_alerts

# Each chunk is one transaction under the billing lock, with a fixed cost of its own: the
# reads of billing states, and the wait for the first metered rows (the database sends them
# in 8 KB bursts) during which nothing can be drafted. A dry run of 10,000 customers took 2.5 s
# in chunks of 500, 2.1 s in chunks of 1,000, 1.8 s in chunks of 2,000 and 2.0 s in one of 5,000.
CUSTOMERS_PER_TASK = 2000
INVOICES_PER_PDF_TASK = 50


class InvoiceRunIncomplete(RunIncomplete):
    """Some customers could not be invoiced: one line each; `report` is the run's summary."""

    code = "invoice_run_incomplete"


class InvoiceList(Sequence[dict[str, Any]]):
    """The run's invoices in its summary: a sequence but not a list, because Prefect walks every
    element of a flow's return value (looking for futures) and does not descend into it; the
    walk of a list of 15,000 invoices' dicts measured about 2 s of a 10,000-customer run."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[dict[str, Any]]) -> None:
        self._items = tuple(items)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[dict[str, Any]]: ...
    def __getitem__(self, index: int | slice) -> dict[str, Any] | Sequence[dict[str, Any]]:
        return InvoiceList(self._items[index]) if isinstance(index, slice) else self._items[index]

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self._items) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"InvoiceList({list(self._items)!r})"


@flow(name="run-invoices")
@fails_in_one_line
def run_invoices(
    as_of: date | datetime | None = None,
    customer_ids: list[str] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Invoice everything due up to `as_of` (a date means the end of that day, UTC; none: now).

    A customer that cannot be invoiced (an amount out of range, a concurrent run) is reported
    at the end and fails the run, after every other customer has been invoiced and emailed:
    the run's state message and its artifact name each such customer and why.
    """
    logger = get_run_logger()
    now = resources.utc_now()
    instant = as_of_instant(as_of, now)
    check_issuable(instant, now, dry_run)
    if not dry_run:
        resources.mailer()  # a misconfigured email backend is refused before anything is issued
    stored = resources.catalog()  # pinned: every chunk rates with this version
    catalog = stored.catalog
    ids = list(customer_ids) if customer_ids else [c.id for c in catalog.customers]
    unknown = [cid for cid in ids if cid not in catalog.customers_by_id]
    if unknown:
        raise UnknownCustomer(f"unknown customer(s): {', '.join(unknown)}")
    check_nothing_missing(resources.engine(), ids)  # an invoice gone from the store: one line
    report = InvoiceRunReport(dry_run)
    for start in range(0, len(ids), CUSTOMERS_PER_TASK):
        chunk = ids[start : start + CUSTOMERS_PER_TASK]
        report.add(invoice_chunk(unwalked(chunk), instant, dry_run, stored.id))
        logger.info("invoiced %d of %d customers", min(start + CUSTOMERS_PER_TASK, len(ids)), len(ids))
    outcomes = [o.as_dict() for o in report.outcomes]
    summary: dict[str, Any] = {
        "as_of": instant.isoformat(),
        "dry_run": dry_run,
        "catalog_version": stored.content_hash,
        "customers": report.customers,
        "invoices": InvoiceList(outcomes),
        "finalized": len(report.finalized),
        "drafts": len(report.drafts),
        "failures": report.failures,
        "documents": {"rendered": 0, "failed": 0},
        # the email channel's deliveries, and the webhook channel's (none without one)
        "emails": {"sent": 0, "failed": 0, "failed_for_good": 0, "held_back": 0},
        "webhooks": {"sent": 0, "failed": 0, "failed_for_good": 0, "held_back": 0},
    }
    if not dry_run:  # the emails of finalized invoices were queued with them; send what waits
        # balances change where invoices are finalized: their customers' low credits, queued now
        finalized = unwalked(sorted({o.customer_id for o in report.finalized}))
        summary["credits_low"] = evaluate_credit_alerts(finalized, instant, stored.id).new
        documents = render_documents()
        summary["documents"] = {"rendered": len(documents.rendered), "failed": len(documents.failed)}
        for invoice_id, why in sorted(documents.failed.items()):
            logger.warning("invoice %d: PDF not rendered, its email waits: %s", invoice_id, why)
        delivery = send_pending_notifications()  # by email, and by webhook when one is set
        summary["emails"], summary["webhooks"] = delivery.counts("email"), delivery.counts("webhook")
        for line in delivery.failure_lines():
            logger.warning(line)
    title = f"Invoices as of {instant.isoformat()}" + (" (dry run)" if dry_run else "")
    title += f", catalog version {stored.content_hash[:12]}"
    not_invoiced = [["customer", "why"], *([cid, why] for cid, why in sorted(report.failures.items()))]
    sections = {"Invoices": invoice_rows(outcomes)}
    if report.failures:
        sections["Not invoiced"] = not_invoiced
    publish_summary("run-invoices", title, unwalked(sections))
    if report.failures:
        problems = [f"{cid}: not invoiced: {why}" for cid, why in sorted(report.failures.items())]
        raise InvoiceRunIncomplete(problems, summary)
    return summary


def render_documents() -> DocumentReport:
    """The PDFs of every finalized invoice that has none yet, in chunks of
    `INVOICES_PER_PDF_TASK`; more than one chunk is printed by a pool of worker processes
    (printing is CPU-bound and serialized inside one process), one per core at most or
    `PREFECT_TASKS_RUNNER_PROCESS_POOL_MAX_WORKERS`."""
    ids = find_invoices_to_render()
    chunks = [ids[i : i + INVOICES_PER_PDF_TASK] for i in range(0, len(ids), INVOICES_PER_PDF_TASK)]
    if len(chunks) <= 1:  # a pool's start-up would cost more than it saves
        return render_invoice_pdfs(chunks[0]) if chunks else DocumentReport()
    workers = min(len(chunks), os.cpu_count() or 1)
    pool = ProcessPoolTaskRunner(max_workers=workers)
    printing = print_invoice_pdfs.with_options(task_runner=pool)  # type: ignore[arg-type]
    return printing(chunks)


@flow(name="print-invoice-pdfs")
def print_invoice_pdfs(chunks: list[list[int]]) -> DocumentReport:
    """Print and store the PDFs of these chunks of invoices, side by side."""
    report = DocumentReport()
    for future in [render_invoice_pdfs.submit(chunk) for chunk in chunks]:
        report.add(future.result())
    return report
