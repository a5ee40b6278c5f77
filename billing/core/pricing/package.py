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
    TierHint,
    free_left,
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

    def hint(self, quantity: Decimal) -> TierHint:
        """Band 0 is the free allowance `[0, free_units)` (when there is one); band j >= 1 is
        the j-th package, `[free + (j-1) x size, free + j x size)`, priced `package_price` per
        `package_size` units: the next unit there is paid by that package. A negative quantity
        bills no package: it is given the band of 0, its units to the next band counted from
        the quantity itself."""
        free = self.free_units
        size = self.package_size
        at = max(quantity, ZERO)
        if at < free:
            return TierHint(0, ZERO, free, ZERO, free - quantity, self.package_price, free - at, size)
        whole, _ = divmod(at - free, size)
        start = free + whole * size
        return TierHint(
            int(whole) + 1,
            start,
            start + size,
            self.package_price,
            start + size - quantity,
            self.package_price,
            free_left(free, quantity) if free else None,
            size,
        )

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
