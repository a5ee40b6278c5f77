"""The dates documents print for an invoice issued at a clock-change boundary, in each zone.

An invoice is issued at the local midnight that closes its period; its issue date is that
instant's local day, its period and each line's period read as local days, first and last
inclusive, and its instants carry the offset in force at each end. Worked by hand from each
zone's 2026 rules (see test_calendar_torture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.core.catalog import parse_catalog
from billing.core.invoice_plan import BillingState
from billing.core.invoicing import Invoice, draft_invoice, usage_segments
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.notify.invoice_pdf import invoice_html
from billing.notify.rendering import render_email
from billing.views.documents import invoice_document, period_document
from billing.views.invoice_sheet import invoice_sheet
from billing.views.tables import invoice_rows


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def closing_invoice(tz: str, starts_on: str) -> Invoice:
    """The second invoice of a monthly contract: it closes the first period and bills the next
    one's fee in advance; finalized as INV-000007, due 30 days after its issue date."""
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "pro",
                    "name": "Pro",
                    "interval": "monthly",
                    "charges": [
                        {"model": "flat", "amount": "31.00"},
                        {"metric": "calls", "model": "per_unit", "unit_price": "1.00"},
                    ],
                }
            ],
            "customers": [
                {
                    "id": "c",
                    "email": "c@example.com",
                    "timezone": tz,
                    "contracts": [{"plan": "pro", "starts_on": starts_on}],
                }
            ],
        },
        "documents",
    )
    schedule = Schedule(catalog, catalog.customer("c"))
    state = BillingState()  # the first invoice, at the contract's start, is final
    opening = draft_invoice(catalog, schedule, 0, {}, state.billed, state.credits_used)
    assert opening is not None
    state.record(opening)
    usage = {(s.start, s.end): {"calls": MeteredUsage(Decimal(2), 2)} for s in usage_segments(schedule, 1)}
    draft = draft_invoice(catalog, schedule, 1, usage, state.billed, state.credits_used)
    assert draft is not None
    due_on = draft.issued_on + timedelta(days=30)
    return replace(draft.as_invoice(), status="finalized", number="INV-000007", due_on=due_on)


# zone, contract start, issue instant (UTC and local), the period's ends, the next period's end
BOUNDARIES = [
    # New York falls back at 02:00 on Sun Nov 1: issued at 00:00 EDT
    (
        "America/New_York",
        "2026-10-01",
        utc(2026, 11, 1, 4),
        "2026-11-01T00:00:00-04:00",
        ("2026-10-01T00:00:00-04:00", "2026-10-01", "2026-10-31"),
        ("2026-12-01T00:00:00-05:00", "2026-11-30"),
    ),
    (
        "America/Juneau",
        "2026-10-01",
        utc(2026, 11, 1, 8),
        "2026-11-01T00:00:00-08:00",
        ("2026-10-01T00:00:00-08:00", "2026-10-01", "2026-10-31"),
        ("2026-12-01T00:00:00-09:00", "2026-11-30"),
    ),
    # Paris falls back at 03:00 on Sun Oct 25: an anniversary on the 25th is issued at 00:00 CEST
    (
        "Europe/Paris",
        "2026-09-25",
        utc(2026, 10, 24, 22),
        "2026-10-25T00:00:00+02:00",
        ("2026-09-25T00:00:00+02:00", "2026-09-25", "2026-10-24"),
        ("2026-11-25T00:00:00+01:00", "2026-11-24"),
    ),
    # Lord Howe goes back half an hour on Sun Apr 5 and forward on Sun Oct 4
    (
        "Australia/Lord_Howe",
        "2026-03-05",
        utc(2026, 4, 4, 13),
        "2026-04-05T00:00:00+11:00",
        ("2026-03-05T00:00:00+11:00", "2026-03-05", "2026-04-04"),
        ("2026-05-05T00:00:00+10:30", "2026-05-04"),
    ),
    (
        "Australia/Lord_Howe",
        "2026-09-04",
        utc(2026, 10, 3, 13, 30),
        "2026-10-04T00:00:00+10:30",
        ("2026-09-04T00:00:00+10:30", "2026-09-04", "2026-10-03"),
        ("2026-11-04T00:00:00+11:00", "2026-11-03"),
    ),
    # Kolkata's new year starts at 18:30 UTC on Dec 31: the invoice is dated 1 Jan 2027
    (
        "Asia/Kolkata",
        "2026-12-01",
        utc(2026, 12, 31, 18, 30),
        "2027-01-01T00:00:00+05:30",
        ("2026-12-01T00:00:00+05:30", "2026-12-01", "2026-12-31"),
        ("2027-02-01T00:00:00+05:30", "2027-01-31"),
    ),
    (
        "UTC",
        "2026-10-01",
        utc(2026, 11, 1),
        "2026-11-01T00:00:00+00:00",
        ("2026-10-01T00:00:00+00:00", "2026-10-01", "2026-10-31"),
        ("2026-12-01T00:00:00+00:00", "2026-11-30"),
    ),
]


@pytest.mark.parametrize(("tz", "starts_on", "issued_at", "issued_local", "period", "following"), BOUNDARIES)
def test_the_invoice_document_at_a_clock_change_boundary(
    tz: str,
    starts_on: str,
    issued_at: datetime,
    issued_local: str,
    period: tuple[str, str, str],
    following: tuple[str, str],
) -> None:
    invoice = closing_invoice(tz, starts_on)
    assert invoice.issued_at == issued_at
    document = invoice_document(invoice)
    start, first_day, last_day = period
    issued_on = issued_local[:10]
    assert document["issued_at"] == issued_local
    assert document["issued_on"] == issued_on
    assert document["period"] == {
        "start": start,
        "end": issued_local,
        "first_day": first_day,
        "last_day": last_day,
    }
    usage_line, fee_line = sorted(document["lines"], key=lambda line: line["metric"] is None)
    assert usage_line["period"] == document["period"]  # the closing period's usage
    end, next_last = following
    assert fee_line["period"] == {
        "start": issued_local,
        "end": end,
        "first_day": issued_on,
        "last_day": next_last,
    }
    # the same days through the view the API and the CLI share
    assert (
        period_document(invoice.period_start, invoice.period_end, ZoneInfo(invoice.timezone))
        == document["period"]
    )


def test_the_new_york_fall_back_invoice_email_reads_in_local_days() -> None:
    invoice = closing_invoice("America/New_York", "2026-10-01")
    document = invoice_document(invoice)
    mail = render_email("invoice_issued", {"invoice": document, "customer_name": "Acme"})
    assert mail.subject == "Invoice INV-000007: 33.00 USD due 1 Dec 2026"
    assert "Your invoice INV-000007 for 1 Oct 2026 – 31 Oct 2026 is ready." in mail.text
    assert "Issue date  1 Nov 2026" in mail.text
    assert "Due date    1 Dec 2026" in mail.text
    assert "Total due   33.00 USD" in mail.text
    assert "1 Oct 2026 – 31 Oct 2026" in mail.html and "1 Dec 2026" in mail.html
    # the lines and their own periods are in the attached document
    page = invoice_html(invoice_sheet(invoice, None, None))
    assert "1 Oct 2026 – 31 Oct 2026" in page and "1 Nov 2026 – 30 Nov 2026" in page


def test_the_kolkata_new_year_invoice_is_dated_in_kolkata() -> None:
    invoice = closing_invoice("Asia/Kolkata", "2026-12-01")
    mail = render_email(
        "invoice_issued", {"invoice": invoice_document(invoice), "customer_name": "Mumbai Ltd"}
    )
    # issued on Dec 31 in UTC: the customer reads 1 Jan 2027, due 31 Jan 2027
    assert "for 1 Dec 2026 – 31 Dec 2026 is ready." in mail.text
    assert "Issue date  1 Jan 2027" in mail.text
    assert "1 Jan 2027 – 31 Jan 2027" in invoice_html(invoice_sheet(invoice, None, None))
    assert mail.subject == "Invoice INV-000007: 33.00 USD due 31 Jan 2027"
    assert "31 Dec 2026 –" not in mail.text
    # the invoice run's table prints the same local issue date
    row = {"number": "INV-000007", "customer_id": "c", "issued_on": date(2027, 1, 1), "status": "finalized"}
    (_, rendered) = invoice_rows([{**row, "lines": 2, "total": "33.00", "currency": "USD"}])
    assert rendered[2] == "1 Jan 2027"
