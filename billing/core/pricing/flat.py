"""`flat`: a fixed amount per period, billed in advance or in arrears, prorated by days."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from billing.core.money import Currency
from billing.core.pricing.base import ChargeModel, Coverage, MeteredUsage, Price, PricedCharge, money_text

ONE = Decimal(1)


class FlatCharge(ChargeModel):
    usage_based: ClassVar[bool] = False

    model: Literal["flat"]
    amount: Price
    timing: Literal["in_advance", "in_arrears"] = "in_advance"
    prorate: bool = True

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        if self.prorate and not coverage.is_full:
            return PricedCharge(ONE, self.amount, prorated=coverage)
        return PricedCharge(ONE, self.amount)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        text = money_text(self.amount, currency)
        if priced.prorated is not None:
            days = priced.prorated
            return f"{text} prorated for {days.days} of {days.period_days} days"
        return text
