"""Tier hints agree with the prices the charge models charge, over every usage charge model and
every quantity, negative ones included (a metric with `allow_negative`).

What a hint promises, checked against `price_charge` itself:
- from the quantity (or 0, for a negative one) up to `units_to_next_tier` more units, the next
  units are charged at the hint's band: `unit_price` per unit for graduated, per_unit and
  percentage; the whole quantity at that band for volume; `tier` packages for package;
- adding exactly `units_to_next_tier` units lands in the next band, priced `next_unit_price`;
- a negative quantity has the hint of 0 with its units to the next band counted from itself,
  and the models that bill nothing below 0 charge it nothing.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.money import ZERO
from billing.core.pricing import charge_adapter, price_charge
from billing.core.pricing.base import FULL_COVERAGE, ChargeModel, MeteredUsage

PRICES = st.decimals("0", "5", places=3)


@st.composite
def tier_lists(draw) -> list[dict]:
    bounds = sorted(draw(st.sets(st.integers(1, 3000), min_size=0, max_size=4)))
    ups: list[int | None] = [*bounds, None]
    return [
        {
            "up_to": up,
            "unit_price": str(draw(st.one_of(st.just(D(0)), PRICES))),
            "flat_fee": str(draw(st.one_of(st.just(D(0)), PRICES))),
        }
        for up in ups
    ]


@st.composite
def charges(draw) -> ChargeModel:
    model = draw(st.sampled_from(["graduated", "volume", "package", "per_unit", "percentage"]))
    fields: dict = {"model": model, "metric": "m"}
    if model in ("graduated", "volume"):
        fields["tiers"] = draw(tier_lists())
    elif model == "package":
        fields["package_size"] = str(draw(st.integers(1, 1000)))
        fields["package_price"] = str(draw(PRICES))
        fields["free_units"] = str(draw(st.one_of(st.just(0), st.integers(1, 2000))))
    elif model == "per_unit":
        fields["unit_price"] = str(draw(PRICES))
    else:
        fields["rate"] = str(draw(PRICES))
        fields["per_transaction_fee"] = str(draw(PRICES))
    return charge_adapter.validate_python(fields)


QUANTITIES = st.decimals("-3000", "6000", places=2)
STEPS = st.decimals("0.01", "1", places=2)  # a share of the way to the next band
EVENTS = 3


def _price(charge: ChargeModel, quantity: D) -> D:
    return price_charge(charge, MeteredUsage(quantity, EVENTS), FULL_COVERAGE).amount


def _charged_in_band(charge: ChargeModel, hint, start: D, end: D) -> bool:
    """Whether the price from `start` to `end` (`end` > `start`, both in one band) is the band's."""
    if charge.model in ("per_unit", "percentage"):
        return _price(charge, end) - _price(charge, start) == (end - start) * hint.unit_price
    if charge.model == "graduated":
        fee = charge.tiers[hint.tier].flat_fee if start == hint.tier_from else ZERO  # a tier's fee once
        return _price(charge, end) - _price(charge, start) == (end - start) * hint.unit_price + fee
    if charge.model == "volume":
        return _price(charge, end) == end * hint.unit_price + charge.tiers[hint.tier].flat_fee
    return _price(charge, end) == hint.tier * hint.unit_price  # package: `tier` packages, 0 while free


@settings(max_examples=400, deadline=None)
@given(charge=charges(), q=QUANTITIES, step=STEPS)
def test_the_hint_band_is_what_the_model_charges_up_to_the_next_band(charge, q, step):
    hint = charge.hint(q)
    linear = charge.model in ("per_unit", "percentage")
    start = q if linear else max(q, ZERO)  # below 0 the banded models charge nothing
    assert hint.tier >= 0 and hint.tier_from <= max(q, ZERO)  # a linear band is written from 0
    assert hint.tier_up_to is None or start < hint.tier_up_to
    if hint.units_to_next_tier is None:
        assert hint.tier_up_to is None and hint.next_unit_price is None
        assert _charged_in_band(charge, hint, start, start + 100 * step)  # the last band: for ever
        return
    target = q + hint.units_to_next_tier
    assert hint.units_to_next_tier > 0 and target == hint.tier_up_to
    if target > start:
        assert _charged_in_band(charge, hint, start, start + (target - start) * step)
        assert _charged_in_band(charge, hint, start, target)  # `up_to` itself is still this band's
    after = charge.hint(target)
    assert after.tier == hint.tier + 1 and after.tier_from == target
    assert after.unit_price == hint.next_unit_price


@settings(max_examples=300, deadline=None)
@given(charge=charges(), q=st.decimals("-3000", "-0.01", places=2))
def test_a_negative_quantity_has_the_hint_of_0_counted_from_itself(charge, q):
    hint, at_zero = charge.hint(q), charge.hint(ZERO)
    if charge.model in ("per_unit", "percentage"):
        assert hint == at_zero  # one band, priced linearly: a negative quantity is a credit
        assert _price(charge, q) == q * hint.unit_price + (_price(charge, ZERO))
        return
    assert _price(charge, q) == 0  # graduated, volume and package bill nothing below 0
    assert (hint.tier, hint.tier_from, hint.tier_up_to, hint.unit_price) == (
        at_zero.tier,
        at_zero.tier_from,
        at_zero.tier_up_to,
        at_zero.unit_price,
    )
    assert hint.free_units_left == at_zero.free_units_left  # a negative quantity uses no allowance
    if at_zero.units_to_next_tier is not None:
        assert hint.units_to_next_tier == at_zero.units_to_next_tier - q


def test_a_negative_package_quantity_is_in_the_first_package_not_a_negative_band():
    package = charge_adapter.validate_python(
        {"model": "package", "metric": "m", "package_size": 1000, "package_price": "2.00"}
    )
    hint = package.hint(D(-2500))  # was band -1 from [-2000, -1000)
    assert (hint.tier, hint.tier_from, hint.tier_up_to) == (1, D(0), D(1000))
    assert hint.units_to_next_tier == D(3500)
