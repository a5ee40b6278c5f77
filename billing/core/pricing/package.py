"""`package`: whole packages of `package_size` units after `free_units`, each at `package_price`."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from billing.core.money import ZERO, Currency, plain
from billing.core.pricing.base import (
    ChargeModel,
    Coverage,
    MeteredUsage,
    PositiveQuantity,
    Price,
    PricedCharge,
    money_text,
)


class PackageCharge(ChargeModel):
    model: Literal["package"]
    metric: str
    package_size: PositiveQuantity
    package_price: Price
    free_units: Price = ZERO

    def packages(self, quantity: Decimal) -> Decimal:
        billable = max(ZERO, quantity - self.free_units)
        whole, rest = divmod(billable, self.package_size)  # exact, unlike billable / size
        return whole + 1 if rest else whole

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        return PricedCharge(usage.quantity, self.packages(usage.quantity) * self.package_price)

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        count = self.packages(priced.quantity)
        noun = "package" if count == 1 else "packages"
        text = (
            f"{plain(count)} {noun} of {plain(self.package_size)} "
            f"at {money_text(self.package_price, currency)}"
        )
        if self.free_units:
            text += f" ({plain(self.free_units)} free)"
        return text
