"""`graduated`: each unit priced at the tier it falls in, plus a tier's flat fee once reached."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator

from billing.core.money import ZERO, Currency
from billing.core.pricing.base import ChargeModel, Coverage, MeteredUsage, PricedCharge, TierAmount, TierHint
from billing.core.pricing.tiers import Tier, check_tiers, explain_tiers, tier_hint


class GraduatedCharge(ChargeModel):
    model: Literal["graduated"]
    metric: str
    tiers: Annotated[tuple[Tier, ...], AfterValidator(check_tiers)]

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        quantity = usage.quantity
        if quantity <= 0:
            return PricedCharge(quantity, ZERO)
        parts = []
        total = ZERO
        lower = ZERO
        for tier in self.tiers:
            upper = tier.up_to
            units = (quantity if upper is None or quantity < upper else upper) - lower
            amount = units * tier.unit_price + tier.flat_fee
            total += amount
            parts.append(TierAmount(units, tier.unit_price, tier.flat_fee, amount, upper is not None))
            if upper is None or quantity <= upper:
                break
            lower = upper
        return PricedCharge(quantity, total, tuple(parts))

    def hint(self, quantity: Decimal) -> TierHint:
        return tier_hint(self.tiers, quantity)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        return explain_tiers(priced.tiers, currency) if priced.tiers else "no usage"
