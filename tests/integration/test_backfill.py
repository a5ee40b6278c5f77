"""Backfills against the real databases: a dry run shows what a real run corrects, a real run
corrects once, the next invoice carries it, and nothing is left to correct after."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.services.backfill import backfill_customers
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.services.preview import preview
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import (
    UnknownCatalogVersion,
    active_catalog,
    catalog_version_named,
    save_catalog,
)
from billing.store.invoice_records import load_invoices
from billing.store.models import BillingCorrection

D = Decimal
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)


def catalog(unit_price: str):
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "std",
                    "interval": "monthly",
                    "charges": [
                        {"model": "flat", "amount": "10.00"},
                        {"metric": "calls", "model": "per_unit", "unit_price": unit_price},
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


def load(engine, unit_price: str, at: datetime):
    with engine.begin() as connection:
        save_catalog(connection, catalog(unit_price), "test", at)
    with engine.connect() as connection:
        return active_catalog(connection)


def ingest(engine, suite, stored, ids_and_times, now):
    records = [
        RawRecord(
            n, json.dumps({"transaction_id": t, "customer_id": "acme", "event_type": "call", "timestamp": at})
        )
        for n, (t, at) in enumerate(ids_and_times)
    ]
    return ingest_records(engine, stored.catalog, suite, records, "test", now)


def invoice(engine, stored, as_of):
    return invoice_customers(
        engine, stored, ["acme"], as_of, grace=timedelta(hours=24), due_days=30, now=as_of
    )


def backfill(engine, dry_run, stored=None, start=MARCH, end=APRIL):
    now = datetime(2026, 4, 20, tzinfo=UTC)
    return backfill_customers(engine, ["acme"], start, end, catalog=stored, now=now, dry_run=dry_run)


def shown(report):
    return [
        (line.period_days, line.billed, line.should, line.difference, line.action, line.invoice)
        for line in report.lines
    ]


def pending(engine):
    with engine.connect() as connection:
        return connection.execute(
            sa.select(BillingCorrection.amount, BillingCorrection.invoice_id).order_by(BillingCorrection.id)
        ).all()


@pytest.fixture
def march_invoiced(engine, event_suite):
    """March billed for 2 calls (INV-000002: 2.00 + April's fee), finalized."""
    stored = load(engine, "1.00", datetime(2026, 3, 1, tzinfo=UTC))
    ingest(engine, event_suite, stored, [("e1", "2026-03-05T00:00:00Z"), ("e2", "2026-03-06T00:00:00Z")],
           datetime(2026, 4, 1, 6, tzinfo=UTC))  # fmt: skip
    outcomes = invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC)).outcomes
    assert [(o.number, o.total) for o in outcomes] == [("INV-000001", D("10.00")), ("INV-000002", D("12.00"))]
    return stored


def test_late_usage_is_corrected_once_and_carried_by_the_next_invoice(engine, event_suite, march_invoiced):
    stored = march_invoiced
    ingest(engine, event_suite, stored, [("e3", "2026-03-30T00:00:00Z")], datetime(2026, 4, 10, tzinfo=UTC))

    dry = backfill(engine, dry_run=True)
    assert shown(dry) == [
        ("1 Mar 2026 – 31 Mar 2026", D("2.00"), D("3.00"), D("1.00"), "adjustment", "INV-000002")
    ]
    assert (dry.periods, dry.lines_checked) == (1, 2)  # March: its calls and its fee
    assert pending(engine) == []  # a dry run writes nothing

    real = backfill(engine, dry_run=False)
    assert shown(real) == shown(dry)
    assert pending(engine) == [(D("1.00"), None)]
    assert backfill(engine, dry_run=False).lines == []  # the second run finds it corrected
    # the preview shows the invoice that will be issued: the correction rides on it
    shown_now = preview(engine, stored, "acme", [], "merge", datetime(2026, 4, 20, tzinfo=UTC))
    assert [line["amount"] for line in shown_now["before"]["lines"]][-1] == "1.00"
    assert shown_now["before"]["total"] == "11.00"

    # May's invoice carries the correction; the late call is not adjusted a second time.
    invoice(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))
    with Session(engine) as session:
        (may,) = load_invoices(session, number="INV-000003")
    assert [(line.kind, line.amount) for line in may.lines] == [
        ("usage", D("0.00")),  # April's calls
        ("flat", D("10.00")),  # May in advance
        ("adjustment", D("1.00")),
    ]
    assert may.lines[2].description == (
        "Adjustment: Calls: 3 at $1.00 for 1 Mar 2026 – 31 Mar 2026 (backfill)"
    )
    assert may.total == D("11.00")
    (carried,) = pending(engine)
    assert carried.invoice_id is not None
    assert backfill(engine, dry_run=False).lines == []
    assert invoice(engine, stored, datetime(2026, 5, 3, tzinfo=UTC)).outcomes == []


def test_a_named_catalog_version_rerates_and_an_overcharge_is_credited(engine, march_invoiced):
    cheaper = load(engine, "0.50", datetime(2026, 4, 15, tzinfo=UTC))
    with engine.connect() as connection:
        named = catalog_version_named(connection, cheaper.content_hash[:8])
    assert named.id == cheaper.id

    # With each invoice's own version nothing is wrong; with the cheaper one March overcharged.
    assert backfill(engine, dry_run=True).lines == []
    dry = backfill(engine, dry_run=True, stored=named)
    assert shown(dry) == [
        ("1 Mar 2026 – 31 Mar 2026", D("2.00"), D("1.00"), D("-1.00"), "credit", "INV-000002")
    ]
    assert shown(backfill(engine, dry_run=False, stored=named)) == shown(dry)
    assert backfill(engine, dry_run=False, stored=named).lines == []

    assert pending(engine) == []  # credited on a credit note of INV-000002, not on the next invoice
    with Session(engine) as session:
        (note,) = load_invoices(session, number="CN-000001")
    assert (note.corrects, note.total) == ("INV-000002", D("-1.00"))

    invoice(engine, cheaper, datetime(2026, 5, 2, 1, tzinfo=UTC))
    with Session(engine) as session:
        (may,) = load_invoices(session, number="INV-000003")
    assert [line.kind for line in may.lines] == ["usage", "flat"]
    assert may.total == D("10.00")  # May's fee: the credit is not carried again


def test_periods_outside_the_window_or_not_finalized_are_left_alone(engine, event_suite, march_invoiced):
    ingest(
        engine,
        event_suite,
        march_invoiced,
        [("e3", "2026-03-30T00:00:00Z")],
        datetime(2026, 4, 10, tzinfo=UTC),
    )
    assert backfill(engine, dry_run=True, start=APRIL, end=date(2026, 6, 1)).periods == 0  # April is open
    assert backfill(engine, dry_run=True, start=date(2026, 3, 2), end=APRIL).periods == 0


def test_a_catalog_version_is_named_by_8_hex_digits_or_more(engine, march_invoiced):
    with engine.connect() as connection:
        for prefix, message in [
            ("abc", "not a content hash"),
            ("0000000000", "no catalog version 0000000000 is stored"),
        ]:
            with pytest.raises(UnknownCatalogVersion, match=message):
                catalog_version_named(connection, prefix)


def test_a_catalog_version_is_named_in_either_case_as_it_is_copied(engine, march_invoiced):
    """A hash copied from a page that shows it upper-cased, or with the space around it, is the
    same version: refusing it as "not a content hash" would send the operator looking for
    another one."""
    with engine.connect() as connection:
        for prefix in (march_invoiced.content_hash[:12].upper(), f" {march_invoiced.content_hash[:8]}\n"):
            assert catalog_version_named(connection, prefix).id == march_invoiced.id
