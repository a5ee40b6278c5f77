"""Plan changes between plans of different intervals (monthly <-> yearly, quarterly -> monthly).

A contract's flat fees and minimum are prorated over a whole period of its own plan, never of
the plan before it: 14 days of a $1,200 yearly plan are 1200 x 14 / 365, not half of it because
the period they fall in is a 28-day month. A change to a shorter interval ends the period it
starts in at the new interval's next anniversary of the anchor, so the new plan bills every
month from then on, not once at the end of the old plan's year. Amounts worked by hand.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import Catalog, parse_catalog
from billing.core.invoice_plan import BillingState
from billing.core.invoicing import InvoiceDraft, draft_invoice, usage_segments
from billing.core.periods import Schedule
from billing.core.pricing.base import Coverage, MeteredUsage

D = Decimal


def schedule(*contracts: dict[str, object]) -> Schedule:
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "monthly",
                    "interval": "monthly",
                    "minimum_commitment": "100.00",
                    "charges": [{"model": "flat", "amount": "30.00"}],
                },
                {
                    "code": "quarterly",
                    "interval": "quarterly",
                    "charges": [{"model": "flat", "amount": "90.00"}],
                },
                {"code": "yearly", "interval": "yearly", "charges": [{"model": "flat", "amount": "1200.00"}]},
            ],
            "customers": [{"id": "c", "email": "c@example.com", "contracts": list(contracts)}],
        },
        "intervals",
    )
    s = Schedule(catalog, catalog.customer("c"))
    CATALOG[s] = catalog
    return s


CATALOG: dict[Schedule, Catalog] = {}


def invoices(s: Schedule, until: int) -> list[InvoiceDraft]:
    """The invoices at boundaries 0 .. until, no usage, each finalized before the next."""
    state = BillingState()
    found = []
    for boundary in range(until + 1):
        usage = {(seg.start, seg.end): {"calls": MeteredUsage()} for seg in usage_segments(s, boundary)}
        draft = draft_invoice(CATALOG[s], s, boundary, usage, state.billed, state.credits_used)
        assert draft is not None
        state.record(draft)
        found.append(draft)
    return found


def period_days(s: Schedule, count: int) -> list[tuple[date, date]]:
    return [(p.start_date, p.end_date) for p, _ in zip(s.periods(), range(count), strict=False)]


def coverages(s: Schedule, index: int) -> list[Coverage]:
    period = s.period(index)
    assert period is not None
    return [seg.coverage for seg in s.segments(period)]


def test_monthly_to_yearly_prorates_the_yearly_fee_over_a_year() -> None:
    s = schedule(
        {"plan": "monthly", "starts_on": "2026-01-15", "ends_on": "2026-02-28"},
        {"plan": "yearly", "starts_on": "2026-03-01"},
    )
    # the month it changes in: 14 monthly days of 28, 14 yearly days of the year ending with it
    # (15 Mar 2025 - 15 Mar 2026, 365 days); then yearly periods from the anchor's day
    assert coverages(s, 1) == [Coverage(14, 28), Coverage(14, 365)]
    assert period_days(s, 4)[2:] == [
        (date(2026, 3, 15), date(2027, 3, 15)),
        (date(2027, 3, 15), date(2028, 3, 15)),
    ]
    # issued 15 Feb: the monthly half 30 x 14/28 = 15.00, the yearly start 1200 x 14/365 = 46.027 -> 46.03
    fees = [line.amount for line in invoices(s, 1)[1].lines if line.kind == "flat"]
    assert fees == [D("15.00"), D("46.03")]


def test_yearly_to_monthly_ends_the_year_at_the_next_monthly_anniversary() -> None:
    s = schedule(
        {"plan": "yearly", "starts_on": "2026-01-15", "ends_on": "2026-05-31"},
        {"plan": "monthly", "starts_on": "2026-06-01"},
    )
    assert period_days(s, 3) == [
        (date(2026, 1, 15), date(2026, 6, 15)),  # cut at the first monthly anniversary after 1 Jun
        (date(2026, 6, 15), date(2026, 7, 15)),
        (date(2026, 7, 15), date(2026, 8, 15)),
    ]
    # 137 yearly days of the year from 15 Jan (365), 14 monthly days of 15 May - 15 Jun (31)
    assert coverages(s, 0) == [Coverage(137, 365), Coverage(14, 31)]
    first, closing, june = invoices(s, 2)
    # 1200 x 137/365 = 450.410 -> 450.41; 30 x 14/31 = 13.548 -> 13.55
    assert [line.amount for line in first.lines] == [D("450.41"), D("13.55")]
    # 15 Jun: the monthly minimum 100 x 14/31 = 45.161 -> 45.16 less the 13.55 fee, then July's fee
    assert [(line.kind, line.amount) for line in closing.lines] == [
        ("minimum", D("31.61")),
        ("flat", D("30.00")),
    ]
    assert closing.issued_on == date(2026, 6, 15)
    assert [(line.kind, line.amount) for line in june.lines] == [
        ("minimum", D("70.00")),
        ("flat", D("30.00")),
    ]


def test_a_change_on_the_anniversary_day_is_not_split() -> None:
    s = schedule(
        {"plan": "yearly", "starts_on": "2026-01-15", "ends_on": "2026-06-14"},
        {"plan": "monthly", "starts_on": "2026-06-15"},
    )
    assert period_days(s, 2) == [
        (date(2026, 1, 15), date(2026, 6, 15)),
        (date(2026, 6, 15), date(2026, 7, 15)),
    ]
    assert coverages(s, 0) == [Coverage(151, 365)]
    assert coverages(s, 1) == [Coverage(30, 30)]


def test_quarterly_to_monthly_mid_quarter() -> None:
    s = schedule(
        {"plan": "quarterly", "starts_on": "2026-01-31", "ends_on": "2026-03-09"},
        {"plan": "monthly", "starts_on": "2026-03-10"},
    )
    # monthly anniversaries of 31 Jan: 28 Feb, 31 Mar; the quarter is cut at 31 Mar
    assert period_days(s, 2) == [
        (date(2026, 1, 31), date(2026, 3, 31)),
        (date(2026, 3, 31), date(2026, 4, 30)),
    ]
    # 38 quarterly days of 31 Jan - 30 Apr (89); 21 monthly days of 28 Feb - 31 Mar (31)
    assert coverages(s, 0) == [Coverage(38, 89), Coverage(21, 31)]


def test_the_same_interval_still_prorates_over_the_period() -> None:
    s = schedule(
        {"plan": "monthly", "starts_on": "2026-01-15", "ends_on": "2026-02-28"},
        {"plan": "monthly", "starts_on": "2026-03-01"},
    )
    assert coverages(s, 1) == [Coverage(14, 28), Coverage(14, 28)]


WHOLE_DAYS = {"monthly": range(28, 32), "quarterly": range(89, 93), "yearly": range(365, 367)}


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    contracts=st.lists(
        st.tuples(st.sampled_from(list(WHOLE_DAYS)), st.integers(1, 500), st.sampled_from([0, 0, 5])),
        min_size=1,
        max_size=4,
    ),
)
def test_every_side_is_prorated_over_a_whole_period_of_its_own_plan(
    start: date, contracts: list[tuple[str, int, int]]
) -> None:
    laid_out = []
    day = start
    for code, length, gap in contracts:
        last = day + timedelta(days=length - 1)
        laid_out.append({"plan": code, "starts_on": day.isoformat(), "ends_on": last.isoformat()})
        day = last + timedelta(days=1 + gap)
    s = schedule(*laid_out)
    periods = [p for p, _ in zip(s.periods(), range(30), strict=False)]
    for before, after in pairwise(periods):
        assert before.end_date == after.start_date
    for period in periods:
        for seg in s.segments(period):
            assert 0 < seg.coverage.days <= seg.coverage.period_days
            assert seg.coverage.period_days in WHOLE_DAYS[seg.term.plan.interval]
