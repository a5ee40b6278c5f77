"""An invoice total never goes below zero: lines summing below zero leave their negative ones
to a credit note (`cap_at_zero`), and nothing is lost or added on the way."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.core.invoicing import cap_at_zero
from billing.core.line_keys import LineKey
from billing.core.rating import InvoiceLine

CENTS = st.integers(min_value=-100_000, max_value=100_000).map(lambda n: Decimal(n).scaleb(-2))


def line(n: int, amount: Decimal) -> InvoiceLine:
    key = LineKey(date(2026, 3, 1), date(2026, 3, 1), f"charge-{n}")
    return InvoiceLine(key, "adjustment", f"line {n}", None, Decimal(0), amount)


@given(st.lists(CENTS, max_size=8))
def test_the_invoice_never_sums_below_zero_and_the_credit_note_takes_the_rest(amounts):
    lines = [line(n, amount) for n, amount in enumerate(amounts)]
    kept, remainder = cap_at_zero(lines)
    assert sum((x.amount for x in kept), Decimal(0)) >= 0
    assert all(x.amount < 0 for x in remainder)
    assert sorted(x.key for x in kept + remainder) == sorted(x.key for x in lines)  # each line once
    if sum(amounts, Decimal(0)) >= 0:
        assert (kept, remainder) == (lines, [])  # an invoice at zero or more is left as it is


def test_a_negative_total_keeps_the_positive_lines():
    fee, refund, usage = line(0, Decimal("10.00")), line(1, Decimal("-12.00")), line(2, Decimal("0.00"))
    assert cap_at_zero([usage, fee, refund]) == ([usage, fee], [refund])
