"""How large one event's value may be before no invoice could bill it.

An invoice line stays below 10^15 (`MAX_AMOUNT`): rating refuses a bigger one, and with it the
customer's whole invoice run. So ingestion refuses, with the row's reason, a value that alone
would price a line past that under some charge of the catalog on its metric, instead of
storing it and failing every later run. The bound of a metric is the smallest over every charge
on it (plans' and contracts' overridden ones): the largest quantity that each of them prices at
most `LINE_LIMIT`, so that once rounded the line is still below `MAX_AMOUNT`. A charge that
prices nothing per unit (a zero price, a zero rate) does not bound its metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, Context, Decimal, localcontext
from typing import Any

from billing.core.money import EXACT
from billing.core.pricing.base import MAX_AMOUNT, ChargeModel
from billing.core.pricing.graduated import GraduatedCharge
from billing.core.pricing.package import PackageCharge
from billing.core.pricing.per_unit import PerUnitCharge
from billing.core.pricing.percentage import HUNDRED, PercentageCharge
from billing.core.pricing.volume import VolumeCharge

LINE_LIMIT = MAX_AMOUNT - 1  # one whole unit below: rounding to minor units cannot reach MAX_AMOUNT
_DOWN = Context(prec=60, rounding=ROUND_DOWN)  # a bound rounded down is still billable
_ZERO = Decimal(0)


def _units(budget: Decimal, unit_price: Decimal) -> Decimal | None:
    """How many units at `unit_price` fit in `budget` (None: any number, the price being 0)."""
    if unit_price == 0:
        return None
    return _DOWN.divide(budget, unit_price) if budget > 0 else _ZERO


def _per_unit(charge: PerUnitCharge) -> Decimal | None:
    return _units(LINE_LIMIT, charge.unit_price)


def _package(charge: PackageCharge) -> Decimal | None:
    if charge.package_price == 0:
        return None
    packages = _DOWN.divide_int(LINE_LIMIT, charge.package_price)
    return charge.free_units + packages * charge.package_size


def _percentage(charge: PercentageCharge) -> Decimal | None:
    # one event: its value at the rate, plus one transaction's fee
    budget = LINE_LIMIT - charge.per_transaction_fee
    return _units(budget * HUNDRED, charge.rate)


def _graduated(charge: GraduatedCharge) -> Decimal | None:
    billed, lower = _ZERO, _ZERO
    for tier in charge.tiers:
        billed += tier.flat_fee  # reached by the first unit past `lower`
        if billed > LINE_LIMIT:
            return lower
        units = _units(LINE_LIMIT - billed, tier.unit_price)
        if units is not None and (tier.up_to is None or lower + units < tier.up_to):
            return lower + units
        if tier.up_to is None:
            return None
        billed += (tier.up_to - lower) * tier.unit_price
        lower = tier.up_to
    return None  # unreachable: the last tier is unbounded


def _volume(charge: VolumeCharge) -> Decimal | None:
    lower = _ZERO
    for tier in charge.tiers:
        if tier.flat_fee > LINE_LIMIT:
            return lower
        units = _units(LINE_LIMIT - tier.flat_fee, tier.unit_price)
        if units is not None and (tier.up_to is None or units < tier.up_to):
            return max(units, lower)
        if tier.up_to is None:
            return None
        lower = tier.up_to
    return None  # unreachable: the last tier is unbounded


def _unbounded(charge: ChargeModel) -> None:
    return None


BOUND_RULES: dict[str, Callable[[Any], Decimal | None]] = {
    "flat": _unbounded,  # bills no metric
    "per_unit": _per_unit,
    "package": _package,
    "percentage": _percentage,
    "graduated": _graduated,
    "volume": _volume,
}


def charge_quantity_bound(charge: ChargeModel) -> Decimal | None:
    """The largest quantity this charge prices at most `LINE_LIMIT`; None if every quantity is."""
    try:
        rule = BOUND_RULES[charge.model]
    except KeyError:
        raise LookupError(f"charge model {charge.model!r} has no quantity bound rule") from None
    with localcontext(EXACT):  # sums of catalog values are exact; only the divisions round, down
        return rule(charge)


def metric_quantity_bounds(charges: Iterable[ChargeModel]) -> dict[str, Decimal]:
    """Per metric code, the largest value one event may carry: the smallest charge bound."""
    bounds: dict[str, Decimal] = {}
    for charge in charges:
        code = charge.metric_code
        if code is None:
            continue
        bound = charge_quantity_bound(charge)
        if bound is not None and (code not in bounds or bound < bounds[code]):
            bounds[code] = bound
    return bounds
