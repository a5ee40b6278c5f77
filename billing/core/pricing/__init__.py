"""Charge models behind one interface, chosen by their `model` name.

Each module in this package defines one `ChargeModel` subclass; they are discovered here, so a new
model is one new file. `AnyCharge` is the validated union the catalog uses, `price_charge` the one
entry point rating uses.
"""

from __future__ import annotations

import importlib
import pkgutil
from decimal import DecimalException, localcontext
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args

from pydantic import Field, TypeAdapter

from billing.core.errors import InvalidUsage
from billing.core.money import EXACT
from billing.core.pricing.base import ChargeModel, Coverage, MeteredUsage, PricedCharge

_NOT_MODELS = {"base", "tiers"}


def _discover() -> dict[str, type[ChargeModel]]:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in _NOT_MODELS:
            importlib.import_module(f"{__name__}.{module.name}")
    models: dict[str, type[ChargeModel]] = {}
    for cls in ChargeModel.__subclasses__():
        (name,) = get_args(cls.model_fields["model"].annotation)
        models[name] = cls
    return dict(sorted(models.items()))


CHARGE_MODELS: dict[str, type[ChargeModel]] = _discover()

if TYPE_CHECKING:
    AnyCharge = ChargeModel
else:
    # a union built from the registry at import: one new module is one new model
    AnyCharge = Annotated[Union[tuple(CHARGE_MODELS.values())], Field(discriminator="model")]  # noqa: UP007

charge_adapter: TypeAdapter[Any] = TypeAdapter(AnyCharge)


def price_charge(charge: ChargeModel, usage: MeteredUsage, coverage: Coverage) -> PricedCharge:
    """Price one charge exactly: arithmetic that would need rounding is refused, never rounded."""
    try:
        with localcontext(EXACT):
            return charge.price(usage, coverage)
    except DecimalException:
        what = f"metric {charge.metric_code!r}" if charge.metric_code else "a flat fee"
        raise InvalidUsage(
            f"cannot price the {charge.model} charge on {what} exactly for quantity "
            f"{usage.quantity!s}: out of the range billing computes exactly"
        ) from None


def charge_names(charges: tuple[ChargeModel, ...]) -> tuple[str, ...]:
    """What each charge's lines are keyed by: its model and metric ("graduated:api_calls",
    "flat:fee", then "flat:fee:1" for a second one), not its position, so that reordering a
    plan's charges does not pair what was billed with another charge."""
    seen: dict[str, int] = {}
    names = []
    for charge in charges:
        base = f"{charge.model}:{charge.metric_code or 'fee'}"
        count = seen.get(base, 0)
        seen[base] = count + 1
        names.append(base if count == 0 else f"{base}:{count}")
    return tuple(names)


def bills_in_advance(charge: ChargeModel) -> bool:
    """Whether a charge is billed at the start of its period: a flat fee's default timing."""
    return charge.metric_code is None and getattr(charge, "timing", "in_arrears") == "in_advance"


__all__ = [
    "CHARGE_MODELS",
    "AnyCharge",
    "ChargeModel",
    "bills_in_advance",
    "charge_adapter",
    "charge_names",
    "price_charge",
]
