"""Invoicing benchmark: the `run-invoices` flow for 10,000 customers, against the same service
calls without Prefect.

Loads the rating benchmark's data (10,000 customers, 1,000,000 events: `benchmarks/rating.py`)
into PostgreSQL (untimed), then times a real invoice run as of an instant just after every
customer's first period closed: rate, store the drafts, finalize and number them, render each
invoice's email document and queue its `invoice_issued` email. The flow runs in-process under
Prefect's test harness (its start-up not counted) and sends the queued emails to an outbox in a
temporary folder; its PDF tasks and its send step are left out of its timing (their span, as
Prefect recorded those tasks, is taken off), as they are left out of the baseline: the same
chunks through `billing.services.invoice_run.invoice_customers` in one process without
Prefect. Sending the baseline's emails is timed once, for information. Each run starts from the
same data: the invoices, their lines and documents, the send ledger and the counters are
truncated between runs (TRUNCATE fires no row trigger). Best of 3 each, in the same run.

`invoices_per_s`: invoices rated and persisted per second by the baseline. PDF printing is
measured apart (`pdf_figures`): PDFs printed and stored per second by one worker process
(`pdfs_per_s`) and by two at once (`pdfs_per_s_2_processes`), through the flow's own task code.

    python benchmarks/invoicing.py [--customers N] [--events N] [--runs N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, peak_rss_mb, report
from benchmarks.rating import AS_OF, build_catalog, load_data
from billing.notify.outbox import OutboxBackend
from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.services.email_delivery import EmailChannel
from billing.services.invoice_run import InvoiceRunReport, invoice_customers
from billing.services.notification_delivery import deliver_all
from billing.store.catalog_versions import StoredCatalog
from flows.invoices import CUSTOMERS_PER_TASK

SENDER = "billing@bench.example"
WRITTEN = "invoices, invoice_lines, invoice_documents, billing_corrections, notifications, counters"
PDF_SAMPLE = 120  # invoices printed per process for the PDF figures


@dataclass(frozen=True)
class Timing:
    seconds: float  # rating, persisting, finalizing, queueing the emails; sending aside
    invoices: int
    lines: int
    emails: int


def fresh(engine: sa.Engine) -> None:
    """Back to the loaded data: no invoice, line, email or number yet."""
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {WRITTEN} RESTART IDENTITY"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text(f"VACUUM ANALYZE {WRITTEN}"))


def written(engine: sa.Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        counts = [
            connection.scalar(sa.text(f"SELECT count(*) FROM {table}"))
            for table in ("invoices", "invoice_lines", "notifications")
        ]
    return counts[0], counts[1], counts[2]


def service_run(engine: sa.Engine, stored: StoredCatalog, ids: Sequence[str]) -> Timing:
    """What the flow's tasks do, in the flow's chunks, without Prefect around them."""
    settings = get_settings()
    fresh(engine)
    started = time.perf_counter()
    run = InvoiceRunReport(dry_run=False)
    for start in range(0, len(ids), CUSTOMERS_PER_TASK):
        run.add(
            invoice_customers(
                engine,
                stored,
                ids[start : start + CUSTOMERS_PER_TASK],
                AS_OF,
                grace=timedelta(hours=settings.invoice_grace_hours),
                due_days=settings.invoice_due_days,
                now=resources.utc_now(),
            )
        )
    invoiced = time.perf_counter()
    assert not run.failures, run.failures
    invoices, lines, emails = written(engine)
    assert emails == len(run.finalized), (emails, len(run.finalized))
    return Timing(invoiced - started, invoices, lines, emails)


def sending_seconds(engine: sa.Engine, outbox: Path) -> float:
    """Rendering and sending what the last run queued (for information: outside both timings)."""
    started = time.perf_counter()
    delivery = deliver_all(engine, [EmailChannel(OutboxBackend(outbox), SENDER)], resources.utc_now)
    assert not delivery.failed, delivery.failed
    return time.perf_counter() - started


def flow_run(engine: sa.Engine) -> Timing:
    """The flow, timed without the steps measured apart: printing the PDFs (from the last
    invoicing task's end to the send step's start, as Prefect recorded them) and sending the
    emails."""
    from flows.invoices import run_invoices

    fresh(engine)
    started = time.perf_counter()
    state = run_invoices(AS_OF, return_state=True)
    finished = time.perf_counter()
    summary = state.result()
    assert not summary["failures"] and not summary["emails"]["failed"], summary["failures"]
    invoices, lines, emails = written(engine)
    assert summary["emails"]["sent"] == emails == summary["finalized"], summary["emails"]
    apart = steps_apart_seconds(state.state_details.flow_run_id)
    return Timing(finished - started - apart, invoices, lines, emails)


def steps_apart_seconds(flow_run_id: Any) -> float:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    task_runs: list[Any] = []
    with get_client(sync_client=True) as client:
        while True:
            page = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                limit=200,
                offset=len(task_runs),
            )
            task_runs += page
            if len(page) < 200:
                break
    (send,) = [run for run in task_runs if run.name.startswith("send-pending-emails")]
    invoicing = [run for run in task_runs if run.name.startswith("invoice-customers")]
    assert invoicing and all(run.start_time and run.end_time for run in [send, *invoicing])
    # printing the PDFs is everything between the last invoicing task and the send step,
    # the worker processes' start and stop included
    printing = send.start_time - max(run.end_time for run in invoicing)
    return (send.end_time - send.start_time).total_seconds() + printing.total_seconds()


def best(runs: int, work: Any) -> Timing:
    timings = [work() for _ in range(runs)]
    return min(timings, key=lambda t: t.seconds)


def pdf_figures(engine: sa.Engine) -> dict[str, float]:
    """PDFs printed and stored per second by one worker process, and by two at once, through
    `billing.services.invoice_documents.render_pdfs` (what the flow's PDF tasks run) on
    invoices the last run finalized: `PDF_SAMPLE` per process, different invoices each time."""
    with engine.connect() as connection:
        ids = list(
            connection.scalars(
                sa.text("SELECT id FROM invoices WHERE status = 'finalized' ORDER BY id LIMIT :n"),
                {"n": 3 * PDF_SAMPLE},
            )
        )
    assert len(ids) == 3 * PDF_SAMPLE, "not enough finalized invoices for the PDF figures"
    url = engine.url.render_as_string(hide_password=False)
    one = _print_chunks(url, [ids[:PDF_SAMPLE]])
    two = _print_chunks(url, [ids[PDF_SAMPLE : 2 * PDF_SAMPLE], ids[2 * PDF_SAMPLE :]])
    return {"pdfs_per_s": PDF_SAMPLE / one, "pdfs_per_s_2_processes": 2 * PDF_SAMPLE / two}


def _print_chunks(url: str, chunks: list[list[int]]) -> float:
    """Seconds for as many worker processes as chunks, each printing its chunk (started and
    warmed up first: WeasyPrint's import and first layout are not counted)."""
    context = multiprocessing.get_context("spawn")
    ready, go = context.Barrier(len(chunks) + 1), context.Event()
    results = context.Queue()
    workers = [context.Process(target=_pdf_worker, args=(url, chunk, ready, go, results)) for chunk in chunks]
    for worker in workers:
        worker.start()
    ready.wait()
    started = time.perf_counter()
    go.set()
    printed = [results.get() for _ in workers]
    seconds = time.perf_counter() - started
    for worker in workers:
        worker.join()
    assert sorted(printed) == sorted(len(chunk) for chunk in chunks), printed
    return seconds


def _pdf_worker(url: str, chunk: list[int], ready: Any, go: Any, results: Any) -> None:
    from billing.notify.invoice_pdf import html_to_pdf
    from billing.services.invoice_documents import render_pdfs
    from billing.store.database import create_engine

    engine = create_engine(url)
    html_to_pdf("<p>warm-up</p>")  # the import and the fonts, once per worker
    ready.wait()
    go.wait()
    report = render_pdfs(engine, chunk, resources.utc_now())
    assert not report.failed, report.failed
    results.put(len(report.rendered))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timings of each, the best counts")
    args = parser.parse_args()

    catalog, anchors = build_catalog(args.customers, random.Random(1))
    ids = list(anchors)
    engine = bench_database("invoicing")
    folder = tempfile.TemporaryDirectory()
    try:
        stored = load_data(engine, catalog, anchors, args.events)

        os.environ["BILLING_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        os.environ["BILLING_OUTBOX_DIR"] = str(Path(folder.name) / "outbox-flow")
        os.environ["BILLING_EMAIL_FROM"] = SENDER
        get_settings.cache_clear()
        outbox = Path(folder.name) / "outbox-service"
        runs = args.runs

        baseline = best(runs, lambda: service_run(engine, stored, ids))
        invoices_per_s = baseline.invoices / baseline.seconds
        print(
            f"{baseline.invoices:,} invoices ({baseline.lines:,} lines), {baseline.emails:,} emails, "
            f"{args.customers:,} customers"
        )
        print(
            f"service calls without Prefect: {baseline.seconds:.2f}s (best of {runs}): "
            f"{invoices_per_s:.0f} invoices/s rated and persisted (target >= 500)",
            flush=True,
        )
        pdfs = pdf_figures(engine)
        print(
            f"PDFs printed and stored: {pdfs['pdfs_per_s']:.1f}/s by one worker process, "
            f"{pdfs['pdfs_per_s_2_processes']:.1f}/s by two "
            f"({pdfs['pdfs_per_s_2_processes'] / pdfs['pdfs_per_s']:.2f}x)",
            flush=True,
        )
        sending = sending_seconds(engine, outbox)
        print(
            f"for information: rendering and sending the {baseline.emails:,} emails: {sending:.2f}s",
            flush=True,
        )
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            flow = best(runs, lambda: flow_run(engine))
        assert (flow.invoices, flow.lines, flow.emails) == (
            baseline.invoices,
            baseline.lines,
            baseline.emails,
        )
        ratio = flow.seconds / baseline.seconds
        print(f"run-invoices flow, its send step aside: {flow.seconds:.2f}s (best of {runs})")
        print(f"ratio flow/service: {ratio:.2f} (target <= 1.5); peak RSS {peak_rss_mb():.0f} MB")
    finally:
        drop_bench_database(engine)
        folder.cleanup()
    report(
        {
            "bench": "invoicing",
            "seconds": round(flow.seconds, 3),
            "baseline_seconds": round(baseline.seconds, 3),
            "ratio": round(ratio, 3),
            "invoices_per_s": round(invoices_per_s, 1),
            "pdfs_per_s": round(pdfs["pdfs_per_s"], 2),
            "pdfs_per_s_2_processes": round(pdfs["pdfs_per_s_2_processes"], 2),
            "invoices": baseline.invoices,
            "lines": baseline.lines,
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


if __name__ == "__main__":
    main()
