"""Taxes on an invoice (SPEC §4 `tax_rates`): exclusive percentages of the subtotal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax of an invoice: its name, its rate in percent ("20" = 20 %) and its amount,
    rounded once, half-up, to the currency's minor units."""

    name: str
    rate: Decimal
    amount: Decimal
