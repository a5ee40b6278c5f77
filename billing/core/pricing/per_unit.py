"""`per_unit`: quantity x unit price."""

from __future__ import annotations

from typing import Literal

from billing.core.money import Currency, plain
from billing.core.pricing.base import ChargeModel, Coverage, MeteredUsage, Price, PricedCharge, money_text


class PerUnitCharge(ChargeModel):
    model: Literal["per_unit"]
    metric: str
    unit_price: Price

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        return PricedCharge(usage.quantity, usage.quantity * self.unit_price)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        return f"{plain(priced.quantity)} at {money_text(self.unit_price, currency)}"
