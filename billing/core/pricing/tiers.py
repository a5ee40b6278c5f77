"""Tiers shared by the graduated and volume models: validation and their written form."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from billing.core.money import ZERO, Currency, plain
from billing.core.pricing.base import (
    LocatedValueError,
    PositiveQuantity,
    Price,
    TierAmount,
    TierHint,
    free_left,
    money_text,
)


class Tier(BaseModel):
    """A price band: `up_to` is an inclusive upper bound on the quantity, None is unbounded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    up_to: PositiveQuantity | None
    unit_price: Price
    flat_fee: Price = ZERO


def check_tiers(tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
    """Refuse empty, unsorted, overlapping or bounded-at-the-top tier lists."""
    if not tiers:
        raise ValueError("needs at least one tier")
    previous: Decimal | None = None
    for index, tier in enumerate(tiers):
        last = index == len(tiers) - 1
        where = (index, "up_to")
        if tier.up_to is None and not last:
            raise LocatedValueError("only the last tier may be unbounded (up_to null)", where, None)
        if tier.up_to is not None and last:
            raise LocatedValueError("the last tier must be unbounded: write up_to: null", where, tier.up_to)
        if tier.up_to is not None and previous is not None and tier.up_to <= previous:
            raise LocatedValueError(
                f"must be greater than the previous tier's up_to {plain(previous)}"
                " (tiers must be sorted and must not overlap)",
                where,
                tier.up_to,
            )
        previous = tier.up_to
    return tiers


def explain_tiers(tiers: tuple[TierAmount, ...], currency: Currency) -> str:
    """ "first 5 at $7.00, next 5 at $6.50, 10 at $6.00 + $2.00 flat"."""
    parts = []
    for index, tier in enumerate(tiers):
        lead = "" if len(tiers) == 1 or not tier.bounded else "first " if index == 0 else "next "
        text = f"{lead}{plain(tier.quantity)} at {money_text(tier.unit_price, currency)}"
        if tier.flat_fee:
            text += f" + {money_text(tier.flat_fee, currency)} flat"
        parts.append(text)
    return ", ".join(parts)


def tier_hint(tiers: tuple[Tier, ...], quantity: Decimal) -> TierHint:
    """The band `[previous up_to, up_to)` holding `quantity` (graduated and volume alike: the
    next unit is priced there, or reprices the whole quantity there); a first tier priced 0 is
    a free allowance. A negative quantity has the first band's hint (see `TierHint`)."""
    index = next(i for i, t in enumerate(tiers) if t.up_to is None or max(quantity, ZERO) < t.up_to)
    tier = tiers[index]
    lower = ZERO if index == 0 else tiers[index - 1].up_to or ZERO
    last = tier.up_to is None
    first = tiers[0]
    free = None if first.unit_price != 0 or first.up_to is None else free_left(first.up_to, quantity)
    return TierHint(
        index,
        lower,
        tier.up_to,
        tier.unit_price,
        None if last or tier.up_to is None else tier.up_to - quantity,
        None if last else tiers[index + 1].unit_price,
        free,
    )
