"""Property: what the invoices bill for a period equals the quote for the same usage (SPEC §4).

The period's in-advance fees go on the invoice issued when it starts, its usage, in-arrears fees
and true-up on the one issued when it closes; together they are the quote's lines.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.invoicing import NOTHING_BILLED, draft_invoice, usage_segments
from billing.core.money import Currency
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import quote

prices = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
unit_prices = st.decimals(min_value=0, max_value=5, places=6, allow_nan=False, allow_infinity=False)
quantities = st.integers(min_value=0, max_value=50_000).map(Decimal)


@st.composite
def charges(draw: st.DrawFn) -> list[dict]:
    chosen = [
        {
            "model": "flat",
            "amount": str(draw(prices)),
            "timing": draw(st.sampled_from(["in_advance", "in_arrears"])),
        }
    ]
    if draw(st.booleans()):
        chosen.append({"model": "per_unit", "metric": "calls", "unit_price": str(draw(unit_prices))})
    if draw(st.booleans()):
        chosen.append(
            {
                "model": "graduated",
                "metric": "gb",
                "tiers": [
                    {"up_to": 100, "unit_price": str(draw(unit_prices)), "flat_fee": str(draw(prices))},
                    {"up_to": None, "unit_price": str(draw(unit_prices))},
                ],
            }
        )
    if draw(st.booleans()):
        chosen.append({"model": "package", "metric": "calls", "package_size": 1000, "package_price": "2.50"})
    if draw(st.booleans()):
        chosen.append({"model": "flat", "amount": str(draw(prices)), "timing": "in_arrears"})
    return chosen


@settings(max_examples=60, deadline=None)
@given(
    plan_charges=charges(),
    minimum=st.one_of(st.none(), prices),
    calls=quantities,
    gb=quantities,
    currency=st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_invoices_bill_a_period_as_its_quote_prices_it(plan_charges, minimum, calls, gb, currency):
    # Flat amounts and minimums are amounts: at most the currency's minor-unit digits (SPEC §4).
    quantum = Currency.of(currency).quantum
    for charge in plan_charges:
        if charge["model"] == "flat":
            charge["amount"] = str(Decimal(charge["amount"]).quantize(quantum, ROUND_DOWN))
    plan = {"code": "p", "interval": "monthly", "charges": plan_charges}
    if minimum is not None:
        plan["minimum_commitment"] = str(minimum.quantize(quantum, ROUND_DOWN))
    catalog = parse_catalog(
        {
            "currency": currency,
            "metrics": [
                {"code": "calls", "event_type": "call", "aggregation": "count"},
                {"code": "gb", "event_type": "store", "aggregation": "sum", "field": "gb"},
            ],
            "plans": [plan],
            "customers": [
                {"id": "c", "email": "c@x.example", "contracts": [{"plan": "p", "starts_on": "2026-03-01"}]}
            ],
        }
    )
    usage = {"calls": MeteredUsage(calls, int(calls)), "gb": MeteredUsage(gb, 0)}
    schedule = Schedule(catalog, catalog.customer("c"))
    billed: dict = {}
    credits: dict = {}
    invoiced = []
    for boundary in (0, 1):
        by_segment = {(s.start, s.end): usage for s in usage_segments(schedule, boundary)}
        draft = draft_invoice(catalog, schedule, boundary, by_segment, billed, credits)
        if draft is None:
            continue
        for line in draft.lines:  # finalized: what the next invoice must not bill again
            billed[line.key] = billed.get(line.key, NOTHING_BILLED).plus(line)
        invoiced += draft.lines
    first = schedule.period(0)
    of_the_period = sorted(line.amount for line in invoiced if line.start == first.start)
    quoted = sorted(line.amount for line in quote(catalog, "p", usage).lines)
    assert of_the_period == quoted
