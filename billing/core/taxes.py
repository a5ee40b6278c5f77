"""Taxes on an invoice (SPEC §4 `tax_rates`): exclusive percentages of the subtotal.

Each of a customer's rates is a percentage of the subtotal (after the true-up), one line each,
computed exactly and rounded once, half-up, to the currency's minor units. Prepaid credits then
burn the taxed total like a payment: `total = subtotal + taxes - credits_applied`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from billing.core.money import ZERO, Currency, round_ratio


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax of an invoice: its name, its rate in percent ("20" = 20 %) and its amount,
    rounded once, half-up, to the currency's minor units."""

    name: str
    rate: Decimal
    amount: Decimal

    def negated(self) -> TaxLine:
        """The same tax reversed, as a credit note carries it."""
        return TaxLine(self.name, self.rate, -self.amount)


def compute_taxes(
    subtotal: Decimal, rates: Iterable[tuple[str, Decimal]], currency: Currency
) -> tuple[TaxLine, ...]:
    """One line per `(name, percent)`: `subtotal x percent / 100`, rounded once, half-up."""
    lines = []
    for name, rate in rates:
        numerator, denominator = rate.as_integer_ratio()
        lines.append(TaxLine(name, rate, round_ratio(subtotal, numerator, denominator * 100, currency)))
    return tuple(lines)


def tax_total(taxes: Iterable[TaxLine]) -> Decimal:
    return sum((tax.amount for tax in taxes), ZERO)
