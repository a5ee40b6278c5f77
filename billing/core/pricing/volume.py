"""`volume`: every unit at the price of the tier that holds the total, plus that tier's fee."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator

from billing.core.money import ZERO, Currency
from billing.core.pricing.base import ChargeModel, Coverage, MeteredUsage, PricedCharge, TierAmount, TierHint
from billing.core.pricing.tiers import Tier, check_tiers, explain_tiers, tier_hint


class VolumeCharge(ChargeModel):
    model: Literal["volume"]
    metric: str
    tiers: Annotated[tuple[Tier, ...], AfterValidator(check_tiers)]

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        quantity = usage.quantity
        if quantity <= 0:
            return PricedCharge(quantity, ZERO)
        for tier in self.tiers:  # the last tier is unbounded, so one always holds the total
            if tier.up_to is None or quantity <= tier.up_to:
                break
        amount = quantity * tier.unit_price + tier.flat_fee
        part = TierAmount(quantity, tier.unit_price, tier.flat_fee, amount, bounded=False)
        return PricedCharge(quantity, amount, (part,))

    def hint(self, quantity: Decimal) -> TierHint:
        return tier_hint(self.tiers, quantity)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        return explain_tiers(priced.tiers, currency) if priced.tiers else "no usage"
