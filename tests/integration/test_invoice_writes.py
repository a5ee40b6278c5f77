"""The set-based invoice write stores exactly what the customer-by-customer write does.

An invoice run writes a chunk's drafts, lines, finalizations, numbers and emails a statement
per table; when the database refuses part of it, it writes the chunk again customer by
customer. The same runs, once with every customer accepted (set-based) and once with one more
customer whose invoices the database refuses (customer by customer), must store the same
invoices, lines, numbers and emails for the others.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import StoredCatalog, save_catalog
from billing.store.models import Event, InvoiceLineRow, InvoiceRow, Notification

GRACE = timedelta(hours=24)
CUSTOMERS = ["acme", "bolt", "crux"]
REFUSED = "zz-refused"  # last: the numbers the others get do not depend on it


def _catalog(customers: list[str]) -> Any:
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "std",
                    "interval": "monthly",
                    "charges": [
                        {"model": "flat", "amount": "10.00"},
                        {"metric": "calls", "model": "per_unit", "unit_price": "1.25"},
                    ],
                }
            ],
            "customers": [
                {
                    "id": cid,
                    "email": f"billing@{cid}.example",
                    "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
                }
                for cid in customers
            ],
        }
    )


def _setup(engine: sa.Engine, customers: list[str]) -> StoredCatalog:
    with engine.begin() as connection:
        return save_catalog(connection, _catalog(customers), "test", datetime(2026, 3, 1, tzinfo=UTC))


def _ingest(engine, suite, stored, calls: list[tuple[str, str]], now: datetime) -> None:
    records = [
        RawRecord(
            n,
            json.dumps(
                {"transaction_id": f"{cid}-{at}", "customer_id": cid, "event_type": "call", "timestamp": at}
            ),
        )
        for n, (cid, at) in enumerate(calls)
    ]
    ingest_records(engine, stored.catalog, suite, records, "test", now)


def _run(engine, stored, customers, as_of):
    return invoice_customers(engine, stored, customers, as_of, grace=GRACE, due_days=30, now=as_of)


def _stored(engine: sa.Engine) -> dict[str, list]:
    """Everything an invoice run writes, without the row ids."""
    with engine.connect() as connection:
        invoices = connection.execute(
            sa.select(
                InvoiceRow.id,
                InvoiceRow.customer_id,
                InvoiceRow.issued_at,
                InvoiceRow.status,
                InvoiceRow.number,
                InvoiceRow.total,
                InvoiceRow.due_on,
                InvoiceRow.finalized_at,
                InvoiceRow.fingerprint,
            ).order_by(InvoiceRow.customer_id, InvoiceRow.issued_at)
        ).all()
        lines = connection.execute(
            sa.select(
                InvoiceLineRow.invoice_id,
                InvoiceLineRow.position,
                InvoiceLineRow.kind,
                InvoiceLineRow.quantity,
                InvoiceLineRow.amount,
                InvoiceLineRow.description,
                InvoiceLineRow.tiers,
            ).order_by(InvoiceLineRow.invoice_id, InvoiceLineRow.position)
        ).all()
        emails = connection.execute(
            sa.select(
                Notification.customer_id,
                Notification.kind,
                Notification.subject,
                Notification.period,
                Notification.recipient,
                Notification.context,
                Notification.status,
            ).order_by(Notification.subject)
        ).all()
        pending = connection.scalar(sa.select(sa.func.count()).where(Event.pending_adjustment.is_(True)))
    by_id = {row.id: tuple(row)[1:] for row in invoices}
    return {
        "invoices": list(by_id.values()),
        "lines": [(by_id[line.invoice_id][:2], *tuple(line)[1:]) for line in lines],
        "emails": [tuple(email) for email in emails],
        "pending_adjustments": [("late events still to adjust", pending)],
    }


def _scenario(engine, suite, customers: list[str]) -> list[dict[str, Any]]:
    """Drafts, drafts written again, finalization, late usage as an adjustment: what each run
    reports and what is stored after it."""
    stored = _setup(engine, [*CUSTOMERS, REFUSED])  # one catalog: the invoices' fingerprints name it
    now = datetime(2026, 4, 1, 6, tzinfo=UTC)
    _ingest(engine, suite, stored, [(cid, "2026-03-05T00:00:00Z") for cid in customers], now)
    seen = []
    runs = [
        datetime(2026, 4, 1, 12, tzinfo=UTC),  # March finalized; April 1 a draft, in its grace
        datetime(2026, 4, 1, 18, tzinfo=UTC),  # the drafts written again, acme's with a new call
        datetime(2026, 4, 2, 1, tzinfo=UTC),  # past the grace: finalized and numbered
        datetime(2026, 5, 2, 1, tzinfo=UTC),  # bolt's late March call billed on May 1
    ]
    for n, as_of in enumerate(runs):
        if n == 1:
            _ingest(engine, suite, stored, [("acme", "2026-03-20T00:00:00Z")], now)
        if n == 3:
            _ingest(
                engine, suite, stored, [("bolt", "2026-03-30T00:00:00Z")], datetime(2026, 4, 10, tzinfo=UTC)
            )
        report = _run(engine, stored, customers, as_of)
        outcomes = [
            (o.customer_id, o.issued_at, o.status, o.number, o.total, o.lines) for o in report.outcomes
        ]
        seen.append({"outcomes": outcomes, "failures": report.failures, **_stored(engine)})
    return seen


def _refuse_invoices_of(engine: sa.Engine, customer: str) -> str:
    """A check in the database that refuses the invoices of one customer; returns how to drop it."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "CREATE FUNCTION test_refuse_invoice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.customer_id = '{customer}' THEN RAISE EXCEPTION 'refused by a test check' "
                "USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"
            )
            connection.exec_driver_sql(
                "CREATE TRIGGER test_refuse_invoice BEFORE INSERT ON invoices "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_invoice()"
            )
            return "DROP FUNCTION test_refuse_invoice() CASCADE"
        connection.exec_driver_sql(
            "CREATE TRIGGER test_refuse_invoice BEFORE INSERT ON invoices "
            f"WHEN NEW.customer_id = '{customer}' BEGIN SELECT RAISE(ABORT, 'refused by a test check'); END"
        )
        return "DROP TRIGGER test_refuse_invoice"


def _without(customer: str, seen: dict[str, Any]) -> dict[str, Any]:
    """What was seen, the customer's rows and failure left out (a line names its invoice)."""

    def whose(row: tuple) -> str:
        return row[0][0] if isinstance(row[0], tuple) else row[0]

    kept = {
        what: [row for row in rows if whose(row) != customer]
        for what, rows in seen.items()
        if what != "failures"
    }
    return {**kept, "failures": {}}


def test_set_based_write_stores_what_customer_by_customer_writes(engine, event_suite, wipe):
    set_based = _scenario(engine, event_suite, CUSTOMERS)
    assert all(not seen["failures"] for seen in set_based)
    final = set_based[-1]
    assert [number for (_, _, status, number, *_) in final["invoices"] if status == "finalized"] == [
        "INV-000001",  # acme, March
        "INV-000004",  # acme, April 1
        "INV-000007",  # acme, May 1
        "INV-000002",
        "INV-000005",
        "INV-000008",  # bolt's May 1, with the adjustment
        "INV-000003",
        "INV-000006",
        "INV-000009",
    ]
    assert [len(seen["emails"]) for seen in set_based] == [3, 3, 6, 9]
    assert final["pending_adjustments"] == [("late events still to adjust", 0)]

    wipe()
    drop = _refuse_invoices_of(engine, REFUSED)
    try:
        one_by_one = _scenario(engine, event_suite, [*CUSTOMERS, REFUSED])
    finally:
        with engine.begin() as connection:
            connection.exec_driver_sql(drop)
    for seen in one_by_one:
        assert list(seen["failures"]) == [REFUSED]
        assert seen["failures"][REFUSED].startswith("the database refused the invoice: ")
        assert "refused by a test check" in seen["failures"][REFUSED]
    assert [_without(REFUSED, seen) for seen in one_by_one] == set_based


def test_two_runs_at_once_number_every_invoice_once_without_gaps(engine, event_suite):
    stored = _setup(engine, CUSTOMERS)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    _ingest(engine, event_suite, stored, [(cid, "2026-03-05T00:00:00Z") for cid in CUSTOMERS], now)
    as_of = datetime(2026, 6, 3, tzinfo=UTC)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        barrier.wait()
        try:
            reports.append(_run(engine, stored, CUSTOMERS, as_of))
        except sa.exc.OperationalError as error:  # SQLite: the second writer may time out waiting
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = _stored(engine)
    # 3 customers x 4 invoices (Mar 1 to Jun 1), each once, numbered 1 to 12 without a gap
    numbers = sorted(number for (_, _, status, number, *_) in seen["invoices"] if status == "finalized")
    assert numbers == [f"INV-{n:06d}" for n in range(1, 13)]
    assert len({(customer, issued_at) for customer, issued_at, *_ in seen["invoices"]}) == 12
    assert sorted(subject for _, _, subject, *_ in seen["emails"]) == numbers
    assert sorted(len(r.outcomes) for r in reports) in ([0, 12], [12])
    assert all(not r.failures for r in reports)


def _run_in_process(url: str, customers: list[str], as_of: datetime, ready: Any, results: Any) -> None:
    """One invoice run in its own process: its own engine, its catalog read from the store."""
    from billing.store.catalog_versions import active_catalog
    from billing.store.database import create_engine

    engine = create_engine(url)
    with engine.connect() as connection:
        stored = active_catalog(connection)
    ready.wait()
    try:
        report = _run(engine, stored, customers, as_of)
        results.put((len(report.outcomes), sorted(report.failures)))
    except Exception as error:  # reported to the test, which fails on it
        results.put(("error", repr(error)))


def test_two_processes_at_once_issue_one_invoice_per_customer_and_period(engine, event_suite):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: two processes do not race")
    stored = _setup(engine, CUSTOMERS)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    _ingest(engine, event_suite, stored, [(cid, "2026-03-05T00:00:00Z") for cid in CUSTOMERS], now)
    as_of = datetime(2026, 6, 3, tzinfo=UTC)
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(2), context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    workers = [
        context.Process(target=_run_in_process, args=(url, CUSTOMERS, as_of, ready, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert all(isinstance(count, int) and not failed for count, failed in outcomes), outcomes
    assert sorted(count for count, _ in outcomes) == [0, 12]  # the billing lock: one run invoiced
    seen = _stored(engine)
    numbers = sorted(number for (_, _, status, number, *_) in seen["invoices"] if status == "finalized")
    assert numbers == [f"INV-{n:06d}" for n in range(1, 13)]
    assert len({(customer, issued_at) for customer, issued_at, *_ in seen["invoices"]}) == 12
    assert sorted(subject for _, _, subject, *_ in seen["emails"]) == numbers
