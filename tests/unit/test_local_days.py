"""The days a person reads: periods of UTC instants as local first and last days, inclusive."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.errors import BillingError
from billing.core.invoicing import Invoice
from billing.core.line_keys import LineKey, SegmentId
from billing.core.local_days import format_day, format_days, local_day, local_days, local_instant
from billing.core.money import Currency
from billing.core.periods import Schedule, local_midnight
from billing.core.rating import InvoiceLine
from billing.views.documents import invoice_document

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
# Lord Howe moves by 30 minutes; Santiago and Havana skip midnight itself when clocks go forward
ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_paris_october_reads_as_the_first_to_the_thirty_first():
    # October in Paris is [Sep 30 22:00 UTC, Oct 31 23:00 UTC): the UTC dates would read
    # "2026-09-30 – 2026-10-31"; the customer's days are Oct 1 to Oct 31.
    days = local_days(utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), PARIS)
    assert (days.first, days.last) == (date(2026, 10, 1), date(2026, 10, 31))
    assert str(days) == "1 Oct 2026 – 31 Oct 2026"


@pytest.mark.parametrize(
    ("tz", "start", "end", "first", "last"),
    [
        # clocks go forward on Mar 8 in New York: March is 31 days of 23 or 24 hours
        (NEW_YORK, utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), date(2026, 3, 1), date(2026, 3, 31)),
        # and back on Nov 1: the period starting that day starts at 04:00 UTC, ends at 05:00
        (NEW_YORK, utc(2026, 11, 1, 4), utc(2026, 12, 1, 5), date(2026, 11, 1), date(2026, 11, 30)),
        # Paris, over the switch to summer time on Mar 29
        (PARIS, utc(2026, 2, 28, 23), utc(2026, 3, 31, 22), date(2026, 3, 1), date(2026, 3, 31)),
        # a day of 23 hours is still one day
        (PARIS, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), date(2026, 3, 29), date(2026, 3, 29)),
        # Santiago skips midnight itself: Oct 15, 2000 begins at 01:00 (04:00 UTC); the day
        # before still ends on Oct 14 (a step back on the local clock would land on Oct 15)
        (
            ZoneInfo("America/Santiago"),
            utc(2000, 10, 14, 4),
            utc(2000, 10, 15, 4),
            date(2000, 10, 14),
            date(2000, 10, 14),
        ),
        # Kolkata, +05:30 all year: local midnight is 18:30 UTC the day before
        (KOLKATA, utc(2026, 2, 28, 18, 30), utc(2026, 3, 31, 18, 30), date(2026, 3, 1), date(2026, 3, 31)),
    ],
)
def test_local_days_across_offsets_and_clock_changes(tz, start, end, first, last):
    days = local_days(start, end, tz)
    assert (days.first, days.last) == (first, last)


def test_an_end_written_with_a_local_offset_closes_the_same_day():
    santiago = ZoneInfo("America/Santiago")
    end = utc(2000, 10, 15, 4).astimezone(santiago)  # 01:00 local: midnight was skipped
    assert local_days(utc(2000, 10, 14, 4), end, santiago).last == date(2000, 10, 14)


def test_the_instants_keep_the_customers_offset():
    assert local_instant(utc(2026, 9, 30, 22), PARIS).isoformat() == "2026-10-01T00:00:00+02:00"
    assert local_instant(utc(2026, 10, 31, 23), PARIS).isoformat() == "2026-11-01T00:00:00+01:00"
    assert local_instant(utc(2026, 2, 28, 18, 30), KOLKATA).isoformat() == "2026-03-01T00:00:00+05:30"
    assert local_day(utc(2026, 2, 28, 18, 30), KOLKATA) == date(2026, 3, 1)
    assert local_day(utc(2026, 2, 28, 18, 29), KOLKATA) == date(2026, 2, 28)


def test_a_plan_change_day_is_printed_once():
    # Starter Oct 1 - Oct 14, Pro from Oct 15: the segments are [Oct 1, Oct 15) and
    # [Oct 15, Nov 1); a half-open end printed as a last day showed Oct 15 on both.
    catalog = parse_catalog(
        {
            "currency": "EUR",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {"code": "starter", "interval": "monthly", "charges": [{"model": "flat", "amount": "10.00"}]},
                {"code": "pro", "interval": "monthly", "charges": [{"model": "flat", "amount": "30.00"}]},
            ],
            "customers": [
                {
                    "id": "paris",
                    "email": "p@example.fr",
                    "timezone": "Europe/Paris",
                    "contracts": [
                        {"plan": "starter", "starts_on": "2026-10-01", "ends_on": "2026-10-14"},
                        {"plan": "pro", "starts_on": "2026-10-15"},
                    ],
                }
            ],
        },
        "test",
    )
    schedule = Schedule(catalog, catalog.customer("paris"))
    october = schedule.period(0)
    assert october is not None
    shown = [str(local_days(s.start, s.end, PARIS)) for s in schedule.segments(october)]
    assert shown == ["1 Oct 2026 – 14 Oct 2026", "15 Oct 2026 – 31 Oct 2026"]


@given(
    zone_name=st.sampled_from(ZONES),
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    length=st.integers(min_value=1, max_value=400),
)
def test_a_period_of_local_midnights_reads_as_its_days(zone_name, first, length):
    """Whatever the zone, a period from local midnight to local midnight reads as its first day
    and the day before its end; consecutive periods never share a day."""
    tz = ZoneInfo(zone_name)
    end = first + timedelta(days=length)
    days = local_days(local_midnight(first, tz), local_midnight(end, tz), tz)
    assert (days.first, days.last) == (first, end - timedelta(days=1))
    after = local_days(local_midnight(end, tz), local_midnight(end + timedelta(days=1), tz), tz)
    assert after.first == days.last + timedelta(days=1)


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_a_formatted_day_reads_back_as_the_same_day(day):
    text = format_day(day)
    number, month, year = text.split(" ")
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert date(int(year), months.index(month) + 1, int(number)) == day
    assert format_day(day.isoformat()) == text


def test_formatting_examples():
    assert format_day(date(2026, 10, 1)) == "1 Oct 2026"
    assert format_day("2026-12-31") == "31 Dec 2026"
    assert format_days("2026-10-01", date(2026, 10, 31)) == "1 Oct 2026 – 31 Oct 2026"


def test_bad_input_is_refused_with_the_value():
    with pytest.raises(BillingError, match="not a date: '2026-13-01'"):
        format_day("2026-13-01")
    with pytest.raises(BillingError, match="no UTC offset"):
        local_instant(datetime(2026, 10, 1), PARIS)
    with pytest.raises(BillingError, match="holds no day"):
        local_days(utc(2026, 10, 2), utc(2026, 10, 1), PARIS)


def test_an_invoice_document_writes_the_customers_offset_and_local_days():
    eur = Currency.of("EUR")
    line = InvoiceLine(
        key=LineKey.of(SegmentId(date(2026, 10, 15), date(2026, 10, 1)), "flat"),
        kind="flat",
        description="Pro",
        metric=None,
        quantity=Decimal(1),
        amount=Decimal("16.45"),
        start=utc(2026, 10, 14, 22),
        end=utc(2026, 10, 31, 23),
    )
    invoice = Invoice(
        customer_id="paris",
        status="finalized",
        currency=eur,
        timezone="Europe/Paris",
        period_start=utc(2026, 9, 30, 22),
        period_end=utc(2026, 10, 31, 23),
        lines=(line,),
        subtotal=Decimal("16.45"),
        credits_applied=Decimal("0.00"),
        total=Decimal("16.45"),
        fingerprint="f",
        issued_at=utc(2026, 10, 31, 23),
        due_on=date(2026, 12, 1),
        number="INV-000001",
    )
    document = invoice_document(invoice)
    assert document["period"] == {
        "start": "2026-10-01T00:00:00+02:00",
        "end": "2026-11-01T00:00:00+01:00",
        "first_day": "2026-10-01",
        "last_day": "2026-10-31",
    }
    assert document["lines"][0]["period"] == {
        "start": "2026-10-15T00:00:00+02:00",
        "end": "2026-11-01T00:00:00+01:00",
        "first_day": "2026-10-15",
        "last_day": "2026-10-31",
    }
    assert document["issued_at"] == "2026-11-01T00:00:00+01:00"
    assert document["issued_on"] == "2026-11-01"  # the UTC date is Oct 31
    assert document["due_on"] == "2026-12-01"
