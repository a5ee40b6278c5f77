"""Invoicing benchmark: the `run-invoices` flow for 10,000 customers, against the same service
calls without Prefect.

Loads the rating benchmark's data (10,000 customers, 1,000,000 events: `benchmarks/rating.py`)
into PostgreSQL with its usage rollups caught up, as ingest keeps them (untimed), then times a
real invoice run as of an instant just after every customer's first period closed: check that
no issued invoice is missing, rate, store the drafts, finalize and number them, render each
invoice's email document, queue its `invoice_issued` email, and evaluate the credit alerts of
the customers invoiced. The flow runs in-process under Prefect's test harness (its start-up not
counted) with its PDF step left out (`render_documents` answers that nothing is to print: PDFs
are measured apart, and 15,000 of them take about 20 minutes on two cores) and its send step's
span, as Prefect recorded that task, taken off; the emails then wait for their PDFs. The
baseline is the same service calls, the same chunks and arguments, in one process without
Prefect. Sending the baseline's emails is timed once, for information (their PDFs printed by
the PDF figures first). Each run starts from the same data: the invoices, their lines and
documents, the send ledger and the counters are truncated between runs (with the triggers set
aside: they refuse a TRUNCATE of what was billed). Best of 3 each, in the same run.

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
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, peak_rss_mb, report
from benchmarks.rating import AS_OF, build_catalog, load_data
from billing.notify.outbox import OutboxBackend
from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.services.email_delivery import EmailChannel
from billing.services.invoice_documents import DocumentReport
from billing.services.invoice_run import InvoiceRunReport, check_nothing_missing, invoice_customers
from billing.services.notification_delivery import deliver_all
from billing.services.spend_alerts import evaluate_credits
from flows.invoices import CUSTOMERS_PER_TASK

SENDER = "billing@bench.example"
WRITTEN = (
    "invoices, invoice_lines, invoice_documents, billing_corrections, notifications, "
    "notification_deliveries, spend_evaluations, counters"
)
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
        # the triggers refuse to truncate what was billed (migration 0019): set aside here
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
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


def service_run(engine: sa.Engine, ids: Sequence[str]) -> Timing:
    """What the flow and its tasks call, in the flow's chunks with the flow's arguments, without
    Prefect around them: the catalog read as the flow reads it, the same check first, every
    chunk, then the credit alerts."""
    settings = get_settings()
    fresh(engine)
    started = time.perf_counter()
    stored = resources.catalog(settings)
    check_nothing_missing(engine, ids)
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
                email_zero_invoices=settings.email_zero_invoices,
                channels=resources.notification_channels(settings),
            )
        )
    channels = resources.notification_channels(settings)
    finalized = sorted({o.customer_id for o in run.finalized})
    evaluate_credits(engine, stored.catalog, finalized, AS_OF, resources.utc_now(), channels=channels)
    invoiced = time.perf_counter()
    assert not run.failures, run.failures
    invoices, lines, emails = written(engine)
    assert emails >= len(run.finalized), (emails, len(run.finalized))
    return Timing(invoiced - started, invoices, lines, emails)


def sending_seconds(engine: sa.Engine, outbox: Path) -> tuple[int, float]:
    """Sending what the last run queued and has its PDF stored (for information: outside both
    timings); the others wait for their PDFs."""
    started = time.perf_counter()
    delivery = deliver_all(engine, [EmailChannel(OutboxBackend(outbox), SENDER)], resources.utc_now)
    assert not delivery.failed, delivery.failed
    return len(delivery.sent), time.perf_counter() - started


def flow_run(engine: sa.Engine) -> Timing:
    """The flow, its PDF step answering that nothing is to print (measured apart), timed without
    its send step (as Prefect recorded that task)."""
    from flows import invoices

    fresh(engine)
    with mock.patch.object(invoices, "render_documents", return_value=DocumentReport()):
        started = time.perf_counter()
        state = invoices.run_invoices(AS_OF, return_state=True)
        finished = time.perf_counter()
    summary = state.result()
    assert not summary["failures"] and not summary["emails"]["failed"], summary["failures"]
    invoices_, lines, emails = written(engine)
    assert summary["emails"]["sent"] == 0 and emails >= summary["finalized"], summary["emails"]
    apart = send_step_seconds(state.state_details.flow_run_id)
    return Timing(finished - started - apart, invoices_, lines, emails)


def send_step_seconds(flow_run_id: Any) -> float:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    with get_client(sync_client=True) as client:
        (send,) = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="send-pending")),
        )
    assert send.start_time and send.end_time
    return (send.end_time - send.start_time).total_seconds()


def interleaved(runs: int, baseline: Any, flow: Any) -> tuple[Timing, Timing, float]:
    """The best of `runs` timings of each, one of each in turn, so that both see the same
    load of a shared machine; and the median of each pair's ratio, steadier than the ratio of
    the bests when the machine's load swings."""
    pairs = [(baseline(), flow()) for _ in range(runs)]
    for n, (b, f) in enumerate(pairs, 1):
        print(f"run {n}: service {b.seconds:.2f}s, flow {f.seconds:.2f}s (load {os.getloadavg()[0]:.1f})")
    paired = statistics.median(f.seconds / b.seconds for b, f in pairs)
    fastest = min((b for b, _ in pairs), key=lambda t: t.seconds)
    return fastest, min((f for _, f in pairs), key=lambda t: t.seconds), paired


def pdf_figures(engine: sa.Engine, sample: int) -> dict[str, float]:
    """PDFs printed and stored per second by one worker process, and by two at once, through
    `billing.services.invoice_documents.render_pdfs` (what the flow's PDF tasks run) on
    invoices the last run finalized: `sample` per process, different invoices each time."""
    with engine.connect() as connection:
        ids = list(
            connection.scalars(
                sa.text("SELECT id FROM invoices WHERE status = 'finalized' ORDER BY id LIMIT :n"),
                {"n": 3 * sample},
            )
        )
    assert len(ids) == 3 * sample, "not enough finalized invoices for the PDF figures"
    url = engine.url.render_as_string(hide_password=False)
    one = _print_chunks(url, [ids[:sample]])
    two = _print_chunks(url, [ids[sample : 2 * sample], ids[2 * sample :]])
    return {"pdfs_per_s": sample / one, "pdfs_per_s_2_processes": 2 * sample / two}


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
    parser.add_argument(
        "--pdf-sample", type=int, default=PDF_SAMPLE, help="invoices printed per process (0: no PDF figures)"
    )
    args = parser.parse_args()

    catalog, anchors = build_catalog(args.customers, random.Random(1))
    ids = list(anchors)
    engine = bench_database("invoicing")
    folder = tempfile.TemporaryDirectory()
    try:
        load_data(engine, catalog, anchors, args.events, with_rollups=True)

        os.environ["BILLING_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
        os.environ["BILLING_OUTBOX_DIR"] = str(Path(folder.name) / "outbox-flow")
        os.environ["BILLING_EMAIL_FROM"] = SENDER
        get_settings.cache_clear()
        outbox = Path(folder.name) / "outbox-service"
        runs = args.runs

        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=180):
            baseline, flow, paired = interleaved(
                runs, lambda: service_run(engine, ids), lambda: flow_run(engine)
            )
        assert (flow.invoices, flow.lines, flow.emails) == (
            baseline.invoices,
            baseline.lines,
            baseline.emails,
        )
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
        print(f"run-invoices flow, its PDF and send steps aside: {flow.seconds:.2f}s (best of {runs})")
        if args.pdf_sample:
            pdfs = pdf_figures(engine, args.pdf_sample)
            print(
                f"PDFs printed and stored: {pdfs['pdfs_per_s']:.1f}/s by one worker process, "
                f"{pdfs['pdfs_per_s_2_processes']:.1f}/s by two "
                f"({pdfs['pdfs_per_s_2_processes'] / pdfs['pdfs_per_s']:.2f}x)",
                flush=True,
            )
            sent, sending = sending_seconds(engine, outbox)
            print(
                f"for information: rendering and sending the {sent:,} emails whose PDF is printed: "
                f"{sending:.2f}s ({1000 * sending / max(sent, 1):.2f} ms each)",
                flush=True,
            )
        else:
            pdfs = {"pdfs_per_s": 0.0, "pdfs_per_s_2_processes": 0.0}
        ratio = flow.seconds / baseline.seconds
        print(
            f"ratio flow/service: {ratio:.2f} (target <= 1.5), median of the runs' ratios {paired:.2f}; "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )
    finally:
        drop_bench_database(engine)
        folder.cleanup()
    report(
        {
            "bench": "invoicing",
            "seconds": round(flow.seconds, 3),
            "baseline_seconds": round(baseline.seconds, 3),
            "ratio": round(ratio, 3),
            "paired_ratio_median": round(paired, 3),
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
