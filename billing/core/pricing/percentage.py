"""`percentage`: a rate on the summed amount, plus a fee per transaction."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

from billing.core.money import ZERO, Currency, display_amount, plain
from billing.core.pricing.base import (
    ChargeModel,
    Coverage,
    MeteredUsage,
    Price,
    PricedCharge,
    TierHint,
    money_text,
)

HUNDRED = Decimal(100)


class PercentageCharge(ChargeModel):
    prices_events: ClassVar[bool] = True

    model: Literal["percentage"]
    metric: str
    rate: Price
    per_transaction_fee: Price = ZERO

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        amount = usage.quantity * self.rate / HUNDRED + self.per_transaction_fee * usage.events
        return PricedCharge(usage.quantity, amount, events=usage.events)

    def hint(self, quantity: Decimal) -> TierHint:
        """One band: each unit of the summed amount at `rate` percent (the per-transaction fee
        is per event, not per unit)."""
        return TierHint(0, ZERO, None, self.rate / HUNDRED, None, None, None)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        text = f"{plain(self.rate)}% of {display_amount(priced.quantity, currency, exact=True)}"
        if self.per_transaction_fee:
            fee = money_text(self.per_transaction_fee, currency)
            text += f" + {priced.events} transactions at {fee}"
        return text
