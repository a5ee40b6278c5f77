"""`per_unit`: quantity x unit price."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from billing.core.money import ZERO, Currency, plain
from billing.core.pricing.base import (
    ChargeModel,
    Coverage,
    MeteredUsage,
    Price,
    PricedCharge,
    TierHint,
    money_text,
)


class PerUnitCharge(ChargeModel):
    model: Literal["per_unit"]
    metric: str
    unit_price: Price

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        return PricedCharge(usage.quantity, usage.quantity * self.unit_price)

    def hint(self, quantity: Decimal) -> TierHint:
        """One band: every unit at `unit_price`."""
        return TierHint(0, ZERO, None, self.unit_price, None, None, None)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        return f"{plain(priced.quantity)} at {money_text(self.unit_price, currency)}"
