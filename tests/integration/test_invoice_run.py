"""Invoice runs against the real databases: drafts, grace, finalization, late usage, dry runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.catalog import parse_catalog
from billing.ingest import ingest_records
from billing.invoice_run import invoice_customers
from billing.sources import RawRecord
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
