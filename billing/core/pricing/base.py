"""The one interface every charge model implements.

A charge model is a small, validated piece of the catalog (its YAML fields) that knows how to
price one period's usage exactly: `price` returns the unrounded amount and, for tiered models,
how much of the quantity fell in each tier. Rounding, proration of the result and line building
belong to `billing.core.rating`, so a model never rounds and never sees a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Annotated, ClassVar, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict

from billing.core.money import ZERO, Currency, decimal_places, display_amount, plain

MAX_PRICE_DECIMALS = 12


class LocatedValueError(ValueError):
    """A validation error about one part of the value checked (`where`: keys and indexes)."""

    def __init__(self, message: str, where: tuple[int | str, ...], value: object) -> None:
        super().__init__(message)
        self.where = where
        self.value = value


MAX_AMOUNT = Decimal(10) ** 15  # a price or fee of a quadrillion is a typo
MAX_QUANTITY = Decimal(10) ** 30  # as for metered quantities (billing.core.events)


def _non_negative(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _amount_in_range(value: Decimal) -> Decimal:
    if value >= MAX_AMOUNT:
        raise ValueError("must be less than 1,000,000,000,000,000")
    return value


def _at_most_12_decimals(value: Decimal) -> Decimal:
    if decimal_places(value) > MAX_PRICE_DECIMALS:
        raise ValueError(f"has more than {MAX_PRICE_DECIMALS} decimals")
    return value


def _quantity_in_range(value: Decimal) -> Decimal:
    if value >= MAX_QUANTITY or decimal_places(value) > 30:
        raise ValueError("must be below 10^30 with at most 30 decimals")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


Price = Annotated[
    Decimal,
    AfterValidator(_non_negative),
    AfterValidator(_amount_in_range),
    AfterValidator(_at_most_12_decimals),
]
"""A money amount or unit price in the catalog: a non-negative decimal with at most 12 places."""

PositiveQuantity = Annotated[
    Decimal, AfterValidator(_non_negative), AfterValidator(_positive), AfterValidator(_quantity_in_range)
]


class MeteredUsage(NamedTuple):
    """What a metric measured over a period: its aggregated quantity and how many events.

    The hot value types of rating are named tuples: immutable, and three times cheaper to
    create than frozen dataclasses, which counts at tens of thousands of lines per run.
    """

    quantity: Decimal = ZERO
    events: int = 0


NO_USAGE = MeteredUsage()


@dataclass(frozen=True, slots=True)
class Coverage:
    """The part of a period a contract covers, in local calendar days."""

    days: int
    period_days: int

    @property
    def is_full(self) -> bool:
        return self.days == self.period_days


FULL_COVERAGE = Coverage(1, 1)


class TierAmount(NamedTuple):
    """How much of a line's quantity was priced in one tier, and for how much (unrounded)."""

    quantity: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal
    bounded: bool = True


class PricedCharge(NamedTuple):
    """An exact, unrounded price: `amount x numerator / denominator` when prorated."""

    quantity: Decimal
    amount: Decimal
    tiers: tuple[TierAmount, ...] = ()
    prorated: Coverage | None = None
    events: int = 0


@dataclass(frozen=True, slots=True)
class TierHint:
    """Where a quantity sits in a charge's price bands, for the next unit (SPEC §8 `hint`).

    Bands are half-open, `[tier_from, tier_up_to)`: at exactly a tier's `up_to` the tier is
    full and the hint names the next one, whose price the next unit pays. `unit_price` is per
    unit, or per package of `per_units` for a package charge; `units_to_next_tier` and
    `next_unit_price` are None in the last band; `free_units_left` is None without a free
    allowance (a first tier priced 0, a package's `free_units`).

    A negative quantity (a metric with `allow_negative`) sits below every band. Models that
    bill nothing at or below 0 (graduated, volume, package) give it the hint of 0, the first
    band, with `units_to_next_tier` counted from the quantity itself (adding them still lands
    exactly on the next band) and the whole free allowance left: the units up to 0 are free,
    the band's price applies from there. `per_unit` and `percentage` price a negative quantity
    as they price any other (a credit), so their one band holds it as it is."""

    tier: int
    tier_from: Decimal
    tier_up_to: Decimal | None
    unit_price: Decimal
    units_to_next_tier: Decimal | None
    next_unit_price: Decimal | None
    free_units_left: Decimal | None
    per_units: Decimal = Decimal(1)


def free_left(allowance: Decimal, quantity: Decimal) -> Decimal:
    """What is left of a free allowance once `quantity` used it (a negative quantity uses none)."""
    return allowance - min(max(quantity, ZERO), allowance)


class ChargeModel(BaseModel):
    """Base class of the charge models; a subclass per model, registered by its `model` name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usage_based: ClassVar[bool] = True
    prices_events: ClassVar[bool] = False  # needs the number of events, not only the quantity

    model: str
    description: str | None = None

    @cached_property
    def metric_code(self) -> str | None:
        """The metric this charge prices, None for a charge that bills no usage."""
        return getattr(self, "metric", None)

    def price(self, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
        """The exact amount for one period's usage, or the flat part a contract covers."""
        raise NotImplementedError

    def hint(self, quantity: Decimal) -> TierHint | None:
        """Where `quantity` sits in this charge's price bands; None for a charge without usage."""
        return None

    def explain(self, priced: PricedCharge, currency: Currency) -> str:
        """How the amount was reached, in words ("first 5 at $7.00, next 5 at $6.50")."""
        return f"{plain(priced.quantity)} units"


@lru_cache(maxsize=4096)
def money_text(amount: Decimal, currency: Currency) -> str:
    """A price as written in an explanation; unit prices keep their sub-cent digits.

    Cached: the catalog's few prices are written on every line of every customer.
    """
    return display_amount(amount, currency, exact=True)
