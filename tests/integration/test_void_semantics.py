"""What a void leaves voided, on SQLite and PostgreSQL: the voided invoice's own periods, never
billed again (even when a backfill had credited a line of it whole before the void), and not
the earlier period an adjustment line of it billed (late usage there is still billed)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from billing.services import invoice_states
from billing.services.backfill import backfill_customers
from billing.store.invoice_records import load_invoices
from tests.integration.test_backfill import ingest, invoice, load

MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def _load(engine, price: str, at: datetime):
    return load(engine, price, at)


def _calls(engine, stored, suite, stamps: dict[str, str], now: datetime) -> None:
    report = ingest(engine, suite, stored, list(stamps.items()), now)
    assert report.accepted == len(stamps)


def _run(engine, stored, as_of: datetime) -> None:
    invoice(engine, stored, as_of)


def _march_usage(engine, number_prefix: str = "INV-") -> list[Decimal]:
    """The amounts billed for March's calls by invoices issued after March's own."""
    with Session(engine) as session:
        found = load_invoices(session, customer_id="acme")
    return [
        line.amount
        for invoice in found
        if invoice.number.startswith(number_prefix) and invoice.period_start > MARCH
        for line in invoice.lines
        if line.metric == "calls" and line.key.period == date(2026, 3, 1)
    ]


def test_a_voided_period_a_backfill_had_credited_whole_is_not_billed_again(engine, event_suite):
    stored = _load(engine, "1.00", MARCH)
    _calls(
        engine,
        stored,
        event_suite,
        {"m1": "2026-03-05T00:00:00Z", "m2": "2026-03-06T00:00:00Z"},
        MARCH + timedelta(days=31),
    )
    _run(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))  # INV-000001 (March's fee), INV-000002 (March)
    free = _load(engine, "0.00", datetime(2026, 4, 15, tzinfo=UTC))
    backfill_customers(engine, ["acme"], date(2026, 3, 1), date(2026, 4, 1), catalog=free,
                       now=datetime(2026, 4, 20, tzinfo=UTC), dry_run=False)  # fmt: skip
    invoice_states.void(engine, "INV-000002", datetime(2026, 4, 21, tzinfo=UTC))
    dry = backfill_customers(engine, ["acme"], date(2026, 3, 1), date(2026, 4, 1), catalog=None,
                             now=datetime(2026, 4, 22, tzinfo=UTC), dry_run=True)  # fmt: skip
    assert [line for line in dry.lines if line.billed != line.should] == []  # a voided period: left alone
    again = _load(engine, "1.00", datetime(2026, 4, 22, tzinfo=UTC))
    _calls(engine, again, event_suite, {"m3": "2026-03-20T00:00:00Z"}, datetime(2026, 4, 23, tzinfo=UTC))
    _run(engine, again, datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert _march_usage(engine) == []  # March stays voided: its late call is not billed either


def test_voiding_an_invoice_does_not_void_the_earlier_period_it_carried_an_adjustment_for(
    engine, event_suite
):
    stored = _load(engine, "1.00", MARCH)
    _calls(engine, stored, event_suite, {"m1": "2026-03-05T00:00:00Z"}, MARCH + timedelta(days=31))
    _run(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    dear = _load(engine, "2.00", datetime(2026, 4, 15, tzinfo=UTC))
    backfill_customers(engine, ["acme"], date(2026, 3, 1), date(2026, 4, 1), catalog=dear,
                       now=datetime(2026, 4, 20, tzinfo=UTC), dry_run=False)  # fmt: skip
    _run(engine, dear, datetime(2026, 5, 2, 1, tzinfo=UTC))  # the April invoice carries March's +1.00
    assert _march_usage(engine) == [Decimal("1.00")]
    with Session(engine) as session:
        april = next(i for i in load_invoices(session, customer_id="acme") if i.period_start.month == 4)
    invoice_states.void(engine, april.number, datetime(2026, 5, 5, tzinfo=UTC))
    _calls(engine, dear, event_suite, {"m9": "2026-03-25T00:00:00Z"}, datetime(2026, 5, 6, tzinfo=UTC))
    _run(engine, dear, datetime(2026, 6, 2, 1, tzinfo=UTC))
    # March's own invoice stands: its late call (2.00) is billed, and the adjustment the void
    # cancelled (1.00) with it; before, the void froze March and the late call was dropped
    assert _march_usage(engine)[-1] == Decimal("3.00")


def test_a_credit_note_issued_at_a_coming_boundary_leaves_that_boundary_to_its_invoice(engine, event_suite):
    stored = _load(engine, "1.00", MARCH)
    _run(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    may_first = datetime(2026, 5, 1, tzinfo=UTC)  # the boundary whose invoice is not drafted yet
    outcome = invoice_states.void(engine, "INV-000002", may_first)
    assert outcome.credit_note is not None and outcome.credit_note.issued_at != may_first
    _run(engine, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))
    with Session(engine) as session:
        issued = {i.issued_at for i in load_invoices(session, customer_id="acme") if i.kind == "invoice"}
    assert may_first in issued  # May's invoice was issued at its boundary, not blocked
