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

from billing.errors import InvalidUsage
from billing.money import EXACT
from billing.pricing.base import ChargeModel, Coverage, MeteredUsage, PricedCharge

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


__all__ = ["CHARGE_MODELS", "AnyCharge", "ChargeModel", "charge_adapter", "price_charge"]
