"""A backfill's comparison on states the generator built: what finalized periods billed against
what they should bill on today's usage, and how the next invoice carries the corrections."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.core.backfill import compare_period, finalized_periods, period_days, should_bill
from billing.core.catalog import Catalog, parse_catalog
from billing.core.catalog.yaml_text import load_yaml
from billing.core.invoice_plan import BillingState, InvoicePlan, draft_invoices, plan_invoices
from billing.core.invoicing import draft_invoice, usage_segments
from billing.core.line_keys import LineKey
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage

D = Decimal
CATALOG = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
plans:
  - code: basic
    interval: monthly
    minimum_commitment: "20.00"
    charges:
      - {model: flat, amount: "10.00", description: Platform fee}     # in advance
      - {model: per_unit, metric: api_calls, unit_price: "0.50"}
customers:
  - id: acme
    email: acme@example.com
    contracts: [{plan: basic, starts_on: 2026-01-01}]
  - id: ender
    email: ender@example.com
    contracts: [{plan: basic, starts_on: 2026-01-01, ends_on: 2026-01-31}]
"""
JAN = date(2026, 1, 1)
USAGE = LineKey(JAN, JAN, "per_unit:api_calls")
MINIMUM = LineKey(JAN, JAN, "minimum")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return parse_catalog(load_yaml(CATALOG), "test-catalog")


def metered(schedule: Schedule, boundaries: range, calls: dict[int, int], late: tuple[int, ...] = ()):
    """Usage of every segment these invoices need; `calls[period index]` api calls, absent 0."""
    result = {}
    for boundary in boundaries:
        for segment in usage_segments(schedule, boundary, late):
            n = calls.get(segment.period.index, 0)
            result[(segment.start, segment.end)] = {"api_calls": MeteredUsage(D(n), n)}
    return result


def billed(catalog: Catalog, customer: str, calls: dict[int, int], through: int) -> BillingState:
    """The state after the invoices at boundaries 0 .. `through` were finalized on `calls`."""
    schedule = Schedule.of(catalog, customer)
    state = BillingState()
    plan = InvoicePlan(tuple(range(through + 1)))
    usage = metered(schedule, range(through + 1), calls)
    for _ in draft_invoices(catalog, schedule, plan, usage, state, final=lambda draft: True):
        pass
    return state


def january(catalog: Catalog, state: BillingState, calls: int, customer: str = "acme", pending=()):
    schedule = Schedule.of(catalog, customer)
    period = schedule.period(0)
    assert period is not None
    usage = metered(schedule, range(1, 2), {0: calls})
    due = should_bill(customer, 0, catalog, catalog, usage)
    return compare_period(customer, period, period_days(schedule, period), due, state.billed, pending)


def differences(comparison) -> list[tuple[LineKey, Decimal, Decimal, Decimal, str]]:
    return [(d.key, d.billed, d.should, d.difference, d.action) for d in comparison.differences]


def test_the_same_usage_rated_again_bills_what_was_billed(catalog):
    comparison = january(catalog, billed(catalog, "acme", {0: 40}, through=1), calls=40)
    assert comparison.days == "1 Jan 2026 – 31 Jan 2026"
    assert [(d.key.charge, d.billed, d.should) for d in comparison.lines] == [
        ("per_unit:api_calls", D("20.00"), D("20.00")),  # 40 x 0.50
        ("flat:fee", D("10.00"), D("10.00")),  # January in advance, billed by the first invoice
    ]
    assert comparison.differences == ()


def test_an_undercharge_is_adjusted_and_an_overcharge_credited(catalog):
    state = billed(catalog, "acme", {0: 40}, through=1)
    assert differences(january(catalog, state, calls=50)) == [
        (USAGE, D("20.00"), D("25.00"), D("5.00"), "adjustment")
    ]
    assert differences(january(catalog, state, calls=30)) == [
        (USAGE, D("20.00"), D("15.00"), D("-5.00"), "credit")
    ]


def test_a_line_that_is_no_longer_due_is_credited_in_full(catalog):
    # 10 calls: 5.00 + 10.00 fee, a 5.00 true-up to the 20.00 minimum; 40 calls need none
    state = billed(catalog, "acme", {0: 10}, through=1)
    assert differences(january(catalog, state, calls=40)) == [
        (USAGE, D("5.00"), D("20.00"), D("15.00"), "adjustment"),
        (MINIMUM, D("5.00"), D("0"), D("-5.00"), "credit"),
    ]


def test_a_line_that_was_never_billed_is_adjusted_in_full(catalog):
    state = billed(catalog, "acme", {0: 40}, through=1)
    assert differences(january(catalog, state, calls=10)) == [
        (USAGE, D("20.00"), D("5.00"), D("-15.00"), "credit"),
        (MINIMUM, D("0"), D("5.00"), D("5.00"), "adjustment"),
    ]


def test_the_correction_line_names_the_line_and_the_period(catalog):
    comparison = january(catalog, billed(catalog, "acme", {0: 40}, through=1), calls=50)
    ((difference, line),) = comparison.corrections()
    assert line.description == ("Adjustment: Api calls: 50 at $0.50 for 1 Jan 2026 – 31 Jan 2026 (backfill)")
    assert (line.key, line.kind, line.quantity, line.amount) == (USAGE, "adjustment", D(10), D("5.00"))
    assert (line.start, line.end) == (difference.start, difference.end)


def test_pending_corrections_count_as_billed_so_nothing_is_corrected_twice(catalog):
    state = billed(catalog, "acme", {0: 10}, through=1)
    pending = [line for _, line in january(catalog, state, calls=40).corrections()]
    assert january(catalog, state, calls=40, pending=pending).differences == ()


def test_the_next_invoice_carries_the_corrections_and_late_usage_is_not_billed_twice(catalog):
    schedule = Schedule.of(catalog, "acme")
    state = billed(catalog, "acme", {0: 40}, through=1)
    state.corrections = [line for _, line in january(catalog, state, calls=50).corrections()]
    # The 10 January calls behind the correction are also late usage on the March invoice.
    usage = metered(schedule, range(2, 3), {0: 50, 1: 40}, late=(0,))
    draft = draft_invoice(
        catalog,
        schedule,
        2,
        usage,
        state.billed,
        state.credits_used,
        late=(0,),
        corrections=state.corrections,
    )
    assert draft is not None
    assert [(line.key.charge, line.kind, line.amount) for line in draft.lines] == [
        ("per_unit:api_calls", "usage", D("20.00")),  # February's 40 calls
        ("flat:fee", "flat", D("10.00")),  # March in advance
        ("per_unit:api_calls", "adjustment", D("5.00")),  # the backfill's, once: no late adjustment
    ]
    assert "(backfill)" in draft.lines[2].description
    state.record(draft)
    assert state.corrections == []
    assert state.billed[USAGE].amount == D("25.00")
    assert january(catalog, state, calls=50).differences == ()


def test_a_correction_waiting_after_the_contract_ended_has_its_invoice(catalog):
    schedule = Schedule.of(catalog, "ender")
    state = billed(catalog, "ender", {0: 40}, through=1)  # January, closed on Feb 1
    late = datetime(2026, 3, 5, tzinfo=UTC)
    assert plan_invoices(schedule, state, late).boundaries == ()
    state.corrections = [
        line for _, line in january(catalog, state, calls=50, customer="ender").corrections()
    ]
    assert plan_invoices(schedule, state, late).boundaries == (2,)
    draft = draft_invoice(
        catalog, schedule, 2, {}, state.billed, state.credits_used, corrections=state.corrections
    )
    assert draft is not None and [line.amount for line in draft.lines] == [D("5.00")]


def test_only_periods_closed_by_a_finalized_invoice_and_starting_in_the_window(catalog):
    schedule = Schedule.of(catalog, "acme")
    starts = [p.start_date for p in finalized_periods(schedule, 3, date(2026, 1, 15), date(2026, 6, 1))]
    assert starts == [date(2026, 2, 1), date(2026, 3, 1)]  # closed by the invoice at 3; April is open
    starts = [p.start_date for p in finalized_periods(schedule, 4, date(2026, 1, 1), date(2026, 3, 1))]
    assert starts == [date(2026, 1, 1), date(2026, 2, 1)]
