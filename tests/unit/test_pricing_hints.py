"""Tier hints (SPEC §8 preview `hint`): hand-worked figures for every charge model, and the
properties: units to the next tier are positive and adding exactly that many moves the
quantity to the next tier; free units left plus free units used is the allowance."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.pricing import charge_adapter
from billing.core.pricing.base import TierHint

TIERS = [
    {"up_to": 100, "unit_price": "0"},
    {"up_to": 1000, "unit_price": "0.10"},
    {"up_to": None, "unit_price": "0.05"},
]
GRADUATED = charge_adapter.validate_python({"model": "graduated", "metric": "m", "tiers": TIERS})
VOLUME = charge_adapter.validate_python({"model": "volume", "metric": "m", "tiers": TIERS})
PACKAGE = charge_adapter.validate_python(
    {"model": "package", "metric": "m", "package_size": 1000, "package_price": "2.00", "free_units": 500}
)
PER_UNIT = charge_adapter.validate_python({"model": "per_unit", "metric": "m", "unit_price": "0.25"})
PERCENTAGE = charge_adapter.validate_python(
    {"model": "percentage", "metric": "m", "rate": "2.5", "per_transaction_fee": "0.30"}
)
FLAT = charge_adapter.validate_python({"model": "flat", "amount": "10.00"})


def test_graduated_and_volume_by_hand():
    # 40 of the 100 free units used: 60 left, then 0.10 a unit
    assert GRADUATED.hint(D(40)) == TierHint(0, D(0), D(100), D(0), D(60), D("0.10"), D(60))
    # 250: in the second band [100, 1000), 750 to go before 0.05
    assert GRADUATED.hint(D(250)) == TierHint(1, D(100), D(1000), D("0.10"), D(750), D("0.05"), D(0))
    # exactly 1000: the band is full, the next unit is at 0.05 in the last band
    assert GRADUATED.hint(D(1000)) == TierHint(2, D(1000), None, D("0.05"), None, None, D(0))
    assert VOLUME.hint(D(250)) == GRADUATED.hint(D(250))
    assert VOLUME.hint(D(0)).free_units_left == D(100)


def test_package_by_hand():
    # 200 of 500 free units used: 300 left before the first package of 1000 at 2.00
    assert PACKAGE.hint(D(200)) == TierHint(0, D(0), D(500), D(0), D(300), D("2.00"), D(300), D(1000))
    # 1700: billable 1200, the second package [1500, 2500) is being used; 800 to the third
    assert PACKAGE.hint(D(1700)) == TierHint(2, D(1500), D(2500), D("2.00"), D(800), D("2.00"), D(0), D(1000))
    # exactly 1500: one package full; the next unit starts the second
    assert PACKAGE.hint(D(1500)).tier == 2


def test_untiered_models_by_hand():
    assert PER_UNIT.hint(D(7)) == TierHint(0, D(0), None, D("0.25"), None, None, None)
    assert PERCENTAGE.hint(D(1000)) == TierHint(0, D(0), None, D("0.025"), None, None, None)
    assert FLAT.hint(D(1)) is None


QUANTITIES = st.decimals("0", "5000", places=3)


@settings(max_examples=200, deadline=None)
@given(q=QUANTITIES, charge=st.sampled_from([GRADUATED, VOLUME, PACKAGE]))
def test_units_to_next_tier_move_the_quantity_to_the_next_tier(q, charge):
    hint = charge.hint(q)
    assert hint.tier_from <= q and (hint.tier_up_to is None or q < hint.tier_up_to)
    if hint.units_to_next_tier is not None:
        assert hint.units_to_next_tier > 0
        after = charge.hint(q + hint.units_to_next_tier)
        assert after.tier == hint.tier + 1
        assert after.unit_price == hint.next_unit_price
        assert charge.hint(q + hint.units_to_next_tier / 2).tier == hint.tier


@settings(max_examples=200, deadline=None)
@given(q=QUANTITIES, charge=st.sampled_from([GRADUATED, VOLUME, PACKAGE]))
def test_free_units_left_and_used_make_the_allowance(q, charge):
    allowance = D(100) if charge is not PACKAGE else D(500)
    used = min(q, allowance)
    assert charge.hint(q).free_units_left + used == allowance
