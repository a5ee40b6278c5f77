"""Overcharges found by a backfill become credit notes of the invoice that billed them, once;
a void after such a credit reverses only what is still billed; an invoice total never goes
below zero (the negative remainder is a credit note of it)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.services import invoice_states
from billing.services.backfill import backfill_customers
from billing.services.ingest import ingest_records
from billing.services.invoice_documents import document_html, render_pdfs
from billing.services.invoice_run import invoice_customers
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import active_catalog, save_catalog
from billing.store.invoice_records import load_invoices
from billing.store.models import BillingCorrection, Notification

D = Decimal
MARCH, APRIL = date(2026, 3, 1), date(2026, 4, 1)
DAYS = "1 Mar 2026 – 31 Mar 2026"


def catalog(unit_price: str, *, negative: bool = False, prepaid: str | None = None, city_tax: bool = True):
    metric = {"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}
    if negative:  # a sum that late usage may bring down
        metric = {**metric, "aggregation": "sum", "field": "n", "allow_negative": True}
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [metric],
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
                    "tax_rates": [{"name": "VAT", "rate": "20"}]
                    + ([{"name": "City", "rate": "2.5"}] if city_tax else []),
                    "contracts": [
                        {
                            "plan": "std",
                            "starts_on": "2026-03-01",
                            "credits": []
                            if prepaid is None
                            else [
                                {"amount": prepaid, "granted_on": "2026-03-01", "expires_on": "2026-12-31"}
                            ],
                        }
                    ],
                }
            ],
        }
    )


def load(engine, loaded, at: datetime):
    with engine.begin() as connection:
        save_catalog(connection, loaded, "test", at)
    with engine.connect() as connection:
        return active_catalog(connection)


def ingest(engine, suite, stored, events, now):
    records = [
        RawRecord(n, json.dumps({"customer_id": "acme", "event_type": "call", **event}))
        for n, event in enumerate(events)
    ]
    return ingest_records(engine, stored.catalog, suite, records, "test", now)


def invoice(engine, stored, as_of):
    return invoice_customers(
        engine, stored, ["acme"], as_of, grace=timedelta(hours=24), due_days=30, now=as_of
    )


def backfill(engine, dry_run, stored=None):
    now = datetime(2026, 4, 20, tzinfo=UTC)
    return backfill_customers(engine, ["acme"], MARCH, APRIL, catalog=stored, now=now, dry_run=dry_run)


def document(engine, number):
    with Session(engine) as session:
        (found,) = load_invoices(session, number=number)
    return found


def credit_notes(engine):
    with Session(engine) as session:
        return [i for i in load_invoices(session, customer_id="acme") if i.kind == "credit_note"]


def emails(engine, kind="credit_note_issued"):
    with engine.connect() as connection:
        return connection.scalars(
            sa.select(Notification.subject).where(Notification.kind == kind).order_by(Notification.id)
        ).all()


@pytest.fixture
def overcharged(engine, event_suite):
    """March billed 2 calls at $1.00 (INV-000002: 2.00 + April's fee 10.00, VAT 2.40, City
    0.30); the catalog loaded since prices calls at $0.35: March overcharged 1.30."""
    stored = load(engine, catalog("1.00"), datetime(2026, 3, 1, tzinfo=UTC))
    calls = [{"transaction_id": f"e{n}", "timestamp": f"2026-03-0{n}T00:00:00Z"} for n in (5, 6)]
    ingest(engine, event_suite, stored, calls, datetime(2026, 4, 1, 6, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    assert document(engine, "INV-000002").total == D("14.70")
    return load(engine, catalog("0.35"), datetime(2026, 4, 15, tzinfo=UTC))


def test_an_overcharge_is_credited_once_on_a_credit_note_of_the_invoice(engine, overcharged):
    dry = backfill(engine, dry_run=True, stored=overcharged)
    real = backfill(engine, dry_run=False, stored=overcharged)
    found = [(line.billed, line.should, line.action, line.invoice) for line in real.lines]
    assert found == [(D("2.00"), D("0.70"), "credit", "INV-000002")]
    assert [line.credit_note for line in real.lines] == ["CN-000001"]
    assert [(line.description, line.difference) for line in dry.lines] == [
        (line.description, line.difference) for line in real.lines
    ]  # the dry run shows exactly what the real run credits
    assert dry.lines[0].credit_note is None

    (note,) = credit_notes(engine)
    assert (note.number, note.corrects, note.reason, note.status) == (
        "CN-000001", "INV-000002", "backfill", "finalized",
    )  # fmt: skip
    (line,) = note.lines
    assert line.description == f"Credit: Calls: 2 at $0.35 for {DAYS} (backfill)"
    assert (line.amount, line.quantity) == (D("-1.30"), D("0"))
    assert line.start == datetime(2026, 3, 1, tzinfo=UTC)  # the line's own period
    assert [(t.name, t.amount) for t in note.taxes] == [("VAT", D("-0.26")), ("City", D("-0.03"))]
    assert (note.subtotal, note.credits_applied, note.total) == (D("-1.30"), D("0.00"), D("-1.59"))
    assert emails(engine) == ["CN-000001"]
    with engine.connect() as connection:  # nothing left pending for the next invoice
        assert connection.scalar(sa.select(sa.func.count()).select_from(BillingCorrection)) == 0

    assert backfill(engine, dry_run=False, stored=overcharged).lines == []  # nothing left to credit
    assert len(credit_notes(engine)) == 1

    # May's invoice neither re-bills nor re-credits March
    invoice(engine, overcharged, datetime(2026, 5, 2, 1, tzinfo=UTC))
    may = document(engine, "INV-000003")
    assert [(line.kind, line.amount) for line in may.lines] == [("usage", D("0.00")), ("flat", D("10.00"))]


def test_the_credit_note_document_renders_and_names_its_invoice(engine, overcharged):
    backfill(engine, dry_run=False, stored=overcharged)
    with engine.connect() as connection:
        note_id = connection.scalar(sa.text("SELECT id FROM invoices WHERE number = 'CN-000001'"))
    report = render_pdfs(engine, [note_id], datetime(2026, 4, 20, tzinfo=UTC))
    assert (report.rendered, report.failed) == ([note_id], {})
    html = document_html(engine, "CN-000001")
    assert "credits invoice INV-000002" in html and "-1.59" in html


def test_a_void_after_a_backfill_credit_reverses_only_what_is_still_billed(engine, overcharged):
    backfill(engine, dry_run=False, stored=overcharged)
    now = datetime(2026, 4, 21, tzinfo=UTC)
    outcome = invoice_states.void(engine, "INV-000002", now)
    void = outcome.credit_note
    assert void is not None and (void.number, void.reason, void.corrects) == (
        "CN-000002",
        "void",
        "INV-000002",
    )
    assert sorted(line.amount for line in void.lines) == [D("-10.00"), D("-0.70")]
    assert [(t.name, t.amount) for t in void.taxes] == [("VAT", D("-2.14")), ("City", D("-0.27"))]
    assert void.total == D("-13.11")  # with CN-000001's -1.59: the invoice's 14.70, never more
    assert invoice_states.void(engine, "INV-000002", now).credit_note == void  # voided once

    invoice_states.void(engine, "INV-000001", now)  # numbering stays gap-free across both kinds
    assert [n.number for n in credit_notes(engine)] == ["CN-000001", "CN-000002", "CN-000003"]
    assert emails(engine) == ["CN-000001", "CN-000002", "CN-000003"]


def test_an_invoice_that_would_go_negative_is_capped_and_the_rest_credited(engine, event_suite):
    stored = load(engine, catalog("1.00", negative=True), datetime(2026, 3, 1, tzinfo=UTC))
    march = {"transaction_id": "m1", "timestamp": "2026-03-05T00:00:00Z", "properties": {"n": 15}}
    ingest(engine, event_suite, stored, [march], datetime(2026, 4, 1, 6, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    late = {"transaction_id": "m2", "timestamp": "2026-03-30T00:00:00Z", "properties": {"n": -12}}
    ingest(engine, event_suite, stored, [late], datetime(2026, 4, 10, tzinfo=UTC))

    invoice(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))  # lines: 0.00, 10.00, -12.00
    may = document(engine, "INV-000003")
    assert [line.amount for line in may.lines] == [D("0.00"), D("10.00")]
    assert (may.subtotal, may.total) == (D("10.00"), D("12.25"))
    (note,) = credit_notes(engine)
    assert (note.number, note.corrects, note.reason) == ("CN-000001", "INV-000003", "remainder")
    assert [line.amount for line in note.lines] == [D("-12.00")]
    assert note.lines[0].description.startswith("Adjustment for late usage")
    assert [(t.name, t.amount) for t in note.taxes] == [("VAT", D("-2.40")), ("City", D("-0.30"))]
    assert note.total == D("-14.70")
    assert emails(engine) == ["CN-000001"]
    assert emails(engine, "invoice_issued")[-1] == "INV-000003"

    invoice(engine, stored, datetime(2026, 6, 2, 1, tzinfo=UTC))  # March is settled: billed net
    june = document(engine, "INV-000004")
    assert [line.kind for line in june.lines] == ["usage", "flat"]
    assert len(credit_notes(engine)) == 1


def test_a_void_after_a_remainder_credit_note_reverses_the_whole_invoice(engine, event_suite):
    """The remainder's credit note credits March's late usage, not what INV-000003 billed:
    voiding INV-000003 gives back all of its 12.25, taxes included, never a positive tax."""
    stored = load(engine, catalog("1.00", negative=True), datetime(2026, 3, 1, tzinfo=UTC))
    march = {"transaction_id": "m1", "timestamp": "2026-03-05T00:00:00Z", "properties": {"n": 15}}
    ingest(engine, event_suite, stored, [march], datetime(2026, 4, 1, 6, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    late = {"transaction_id": "m2", "timestamp": "2026-03-30T00:00:00Z", "properties": {"n": -12}}
    ingest(engine, event_suite, stored, [late], datetime(2026, 4, 10, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))  # INV-000003 12.25, CN-000001

    note = invoice_states.void(engine, "INV-000003", datetime(2026, 5, 3, tzinfo=UTC)).credit_note
    assert note is not None and note.number == "CN-000002"
    assert note.subtotal == D("-10.00")
    assert [(t.name, t.amount) for t in note.taxes] == [("VAT", D("-2.00")), ("City", D("-0.25"))]
    assert note.total == D("-12.25")


def test_a_backfill_never_re_bills_a_voided_invoice(engine, event_suite):
    """March voided (both its invoices), then a backfill with the same prices: nothing to
    correct, and May's invoice bills May only."""
    stored = load(engine, catalog("1.00"), datetime(2026, 3, 1, tzinfo=UTC))
    calls = [{"transaction_id": f"e{n}", "timestamp": f"2026-03-0{n}T00:00:00Z"} for n in (5, 6)]
    ingest(engine, event_suite, stored, calls, datetime(2026, 4, 1, 6, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    for number in ("INV-000001", "INV-000002"):
        invoice_states.void(engine, number, datetime(2026, 4, 3, tzinfo=UTC))

    assert not backfill(engine, dry_run=False).lines
    invoice(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))
    may = document(engine, "INV-000003")
    assert [line.kind for line in may.lines] == ["usage", "flat"]  # no "(backfill)" adjustment
    assert may.total == D("12.25")  # April's 0 calls, May's fee 10.00, VAT 2.00, City 0.25


def test_a_void_never_gives_back_more_than_it_reverses(engine, event_suite):
    """INV-000002 (14.40) was paid by a prepaid credit; a backfill then credited 1.56 of it as
    money. The void reverses 12.84 and gives back 12.84 of credit: its total is 0, not +1.56."""
    stored = load(
        engine, catalog("1.00", prepaid="1000.00", city_tax=False), datetime(2026, 3, 1, tzinfo=UTC)
    )
    calls = [{"transaction_id": f"e{n}", "timestamp": f"2026-03-0{n}T00:00:00Z"} for n in (5, 6)]
    ingest(engine, event_suite, stored, calls, datetime(2026, 4, 1, 6, tzinfo=UTC))
    invoice(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    paid = document(engine, "INV-000002")
    assert (paid.subtotal, paid.credits_applied, paid.total) == (D("12.00"), D("14.40"), D("0.00"))
    cheaper = load(
        engine, catalog("0.35", prepaid="1000.00", city_tax=False), datetime(2026, 4, 15, tzinfo=UTC)
    )
    backfill(engine, dry_run=False, stored=cheaper)
    (credit,) = credit_notes(engine)
    assert credit.total == D("-1.56")

    note = invoice_states.void(engine, "INV-000002", datetime(2026, 4, 21, tzinfo=UTC)).credit_note
    assert note is not None
    assert (note.subtotal, note.taxes[0].amount) == (D("-10.70"), D("-2.14"))
    assert (note.credits_applied, note.total) == (D("-12.84"), D("0.00"))
