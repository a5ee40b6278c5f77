"""Invoice runs against the real databases: drafts, grace, finalization, late usage, dry runs."""

from __future__ import annotations

import gc
import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import active_catalog, save_catalog
from billing.store.invoice_records import load_invoices
from billing.store.models import Event, InvoiceRow

GRACE = timedelta(hours=24)
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [{"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {
                "code": "std",
                "interval": "monthly",
                "charges": [
                    {"model": "flat", "amount": "10.00"},
                    {"metric": "calls", "model": "per_unit", "unit_price": "1.00"},
                ],
            }
        ],
        "customers": [
            {
                "id": "acme",
                "email": "a@acme.example",
                "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
            }
        ],
    }
)


def _setup(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 3, 1, tzinfo=UTC))
    with engine.connect() as connection:
        return active_catalog(connection)


def _ingest(engine, suite, stored, ids_and_times, now):
    records = [
        RawRecord(
            n,
            json.dumps(
                {"transaction_id": txid, "customer_id": "acme", "event_type": "call", "timestamp": at}
            ),
        )
        for n, (txid, at) in enumerate(ids_and_times)
    ]
    return ingest_records(engine, stored.catalog, suite, records, "test", now)


def _run(engine, stored, as_of, dry_run=False):
    return invoice_customers(
        engine, stored, ["acme"], as_of, grace=GRACE, due_days=30, now=as_of, dry_run=dry_run
    )


def _invoices(engine):
    with Session(engine) as session:
        return [
            (i.number, i.status, i.total, [line.amount for line in i.lines]) for i in load_invoices(session)
        ]


def test_draft_in_grace_then_final_then_late_usage_as_adjustment(engine, event_suite):
    stored = _setup(engine)
    now = datetime(2026, 4, 1, 6, tzinfo=UTC)
    _ingest(
        engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z"), ("e2", "2026-03-06T00:00:00Z")], now
    )

    # Within the grace period the closing invoice is a draft, recomputed on each run.
    report = _run(engine, stored, datetime(2026, 4, 1, 12, tzinfo=UTC))
    assert [(o.status, o.total) for o in report.outcomes] == [
        ("finalized", Decimal("10.00")),  # Mar 1: March in advance, long past its grace
        ("draft", Decimal("12.00")),  # Apr 1: 2 calls + April in advance
    ]
    _ingest(engine, event_suite, stored, [("e3", "2026-03-30T00:00:00Z")], now)
    report = _run(engine, stored, datetime(2026, 4, 1, 18, tzinfo=UTC))
    assert [(o.status, o.total) for o in report.outcomes] == [("draft", Decimal("13.00"))]

    # Past the grace period it is finalized and numbered; running again changes nothing.
    report = _run(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    assert [(o.status, o.number, o.total) for o in report.outcomes] == [
        ("finalized", "INV-000002", Decimal("13.00"))
    ]
    assert _run(engine, stored, datetime(2026, 4, 2, 2, tzinfo=UTC)).outcomes == []

    # A March event arriving now is late: accepted, billed as an adjustment on May's invoice.
    late = _ingest(
        engine, event_suite, stored, [("e4", "2026-03-31T12:00:00Z")], datetime(2026, 4, 10, tzinfo=UTC)
    )
    assert (late.accepted, late.late) == (1, 1)
    report = _run(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert [(o.status, o.total) for o in report.outcomes] == [("finalized", Decimal("11.00"))]
    with Session(engine) as session:
        may = load_invoices(session, number="INV-000003")[0]
    assert [(line.kind, line.amount) for line in may.lines] == [
        ("usage", Decimal("0.00")),  # April's calls
        ("adjustment", Decimal("1.00")),  # the late March call
        ("flat", Decimal("10.00")),  # May in advance
    ]
    assert "Adjustment for late usage" in may.lines[1].description
    with engine.connect() as connection:
        pending = connection.scalar(sa.select(sa.func.count()).where(Event.pending_adjustment.is_(True)))
    assert pending == 0
    # The finalized March invoice never changed.
    assert _invoices(engine)[1] == (
        "INV-000002",
        "finalized",
        Decimal("13.00"),
        [Decimal("3.00"), Decimal("10.00")],
    )


def test_dry_run_writes_nothing(engine, event_suite):
    stored = _setup(engine)
    _ingest(engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z")], datetime(2026, 4, 1, tzinfo=UTC))
    report = _run(engine, stored, datetime(2026, 4, 3, tzinfo=UTC), dry_run=True)
    assert [(o.status, o.number, o.total) for o in report.outcomes] == [
        ("finalized", None, Decimal("10.00")),
        ("finalized", None, Decimal("11.00")),
    ]
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(InvoiceRow)) == 0
    real = _run(engine, stored, datetime(2026, 4, 3, tzinfo=UTC))
    assert [o.total for o in real.outcomes] == [o.total for o in report.outcomes]


def test_drafting_runs_with_the_collector_paused_and_the_run_leaves_it_on(engine, event_suite, monkeypatch):
    from billing.services import invoice_run

    drafting = invoice_run._draft_one
    seen = []

    def recording(*args):
        seen.append(gc.isenabled())
        return drafting(*args)

    monkeypatch.setattr(invoice_run, "_draft_one", recording)
    stored = _setup(engine)
    _ingest(engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z")], datetime(2026, 4, 1, tzinfo=UTC))
    report = _run(engine, stored, datetime(2026, 4, 3, tzinfo=UTC))
    assert seen == [False] and len(report.outcomes) == 2
    assert gc.isenabled()


def test_a_customer_that_cannot_be_priced_is_reported_and_the_others_are_invoiced(engine, event_suite):
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "huge",
                    "interval": "monthly",
                    "charges": [{"metric": "calls", "model": "per_unit", "unit_price": "999999999999999"}],
                },
                {"code": "std", "interval": "monthly", "charges": [{"model": "flat", "amount": "10.00"}]},
            ],
            "customers": [
                {
                    "id": "big",
                    "email": "b@x.example",
                    "contracts": [{"plan": "huge", "starts_on": "2026-03-01"}],
                },
                {
                    "id": "ok",
                    "email": "o@x.example",
                    "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
                },
            ],
        }
    )
    with engine.begin() as connection:
        stored = save_catalog(connection, catalog, "test", datetime(2026, 3, 1, tzinfo=UTC))
    records = [
        RawRecord(
            0,
            json.dumps(
                {
                    "transaction_id": "c1",
                    "customer_id": "big",
                    "event_type": "call",
                    "timestamp": "2026-03-05T00:00:00Z",
                }
            ),
        ),
        RawRecord(
            1,
            json.dumps(
                {
                    "transaction_id": "c2",
                    "customer_id": "big",
                    "event_type": "call",
                    "timestamp": "2026-03-06T00:00:00Z",
                }
            ),
        ),
    ]
    ingest_records(engine, catalog, event_suite, records, "test", datetime(2026, 4, 5, tzinfo=UTC))
    as_of = datetime(2026, 4, 5, tzinfo=UTC)
    report = invoice_customers(engine, stored, ["big", "ok"], as_of, grace=GRACE, due_days=30, now=as_of)
    assert list(report.failures) == ["big"]
    assert "beyond what one invoice line can bill" in report.failures["big"]
    assert gc.isenabled()  # the failure inside the paused drafting did not leave the collector off
    assert [(o.customer_id, o.number) for o in report.outcomes] == [
        ("ok", "INV-000001"),
        ("ok", "INV-000002"),
    ]
    with Session(engine) as session:  # nothing of big's half-done work stayed behind
        assert {i.customer_id for i in load_invoices(session)} == {"ok"}


def test_two_runs_at_once_issue_each_invoice_once(engine, event_suite):
    stored = _setup(engine)
    _ingest(engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z")], datetime(2026, 4, 1, tzinfo=UTC))
    as_of = datetime(2026, 6, 3, tzinfo=UTC)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def run():
        barrier.wait()
        try:
            reports.append(_run(engine, stored, as_of))
        except sa.exc.OperationalError as error:  # SQLite: the second writer may time out waiting
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    issued = _invoices(engine)
    assert [number for number, *_ in issued] == ["INV-000001", "INV-000002", "INV-000003", "INV-000004"]
    assert all(status == "finalized" for _, status, *_ in issued)
    assert sorted(len(r.outcomes) for r in reports) in ([0, 4], [4])


def test_an_ended_contract_stops_invoicing_but_late_usage_is_still_billed(engine, event_suite):
    ended = parse_catalog(
        CATALOG.model_dump(mode="json")
        | {
            "customers": [
                {
                    "id": "acme",
                    "email": "a@acme.example",
                    "contracts": [{"plan": "std", "starts_on": "2026-03-01", "ends_on": "2026-03-31"}],
                }
            ]
        }
    )
    with engine.begin() as connection:
        stored = save_catalog(connection, ended, "test", datetime(2026, 3, 1, tzinfo=UTC))
    _ingest(engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z")], datetime(2026, 4, 1, tzinfo=UTC))
    first = _run(engine, stored, datetime(2026, 9, 1, tzinfo=UTC))
    # Mar 1: March's fee; Apr 1: March's call; nothing after the contract ended
    assert [(o.issued_on.isoformat(), o.total) for o in first.outcomes] == [
        ("2026-03-01", Decimal("10.00")),
        ("2026-04-01", Decimal("1.00")),
    ]
    _ingest(engine, event_suite, stored, [("e2", "2026-03-20T00:00:00Z")], datetime(2026, 9, 1, tzinfo=UTC))
    late = _run(engine, stored, datetime(2026, 9, 2, tzinfo=UTC))
    assert [(o.issued_on.isoformat(), o.total) for o in late.outcomes] == [("2026-05-01", Decimal("1.00"))]
    assert _run(engine, stored, datetime(2026, 9, 3, tzinfo=UTC)).outcomes == []
