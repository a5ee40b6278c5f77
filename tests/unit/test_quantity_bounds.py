"""The largest value one event may carry: billable at the bound, not one step past it."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.money import EXACT
from billing.core.pricing import CHARGE_MODELS, charge_adapter, price_charge
from billing.core.pricing.base import FULL_COVERAGE, MeteredUsage
from billing.core.quantity_bounds import (
    BOUND_RULES,
    LINE_LIMIT,
    charge_quantity_bound,
    metric_quantity_bounds,
)


def _price(charge, quantity):
    return price_charge(charge, MeteredUsage(quantity, 1), FULL_COVERAGE).amount


def _charge(**fields):
    return charge_adapter.validate_python({"metric": "m", **fields})


def test_every_charge_model_has_a_bound_rule():
    assert set(BOUND_RULES) == set(CHARGE_MODELS)


def test_bounds_worked_out_by_hand():
    assert charge_quantity_bound(_charge(model="per_unit", unit_price="0.25")) == LINE_LIMIT * 4
    assert charge_quantity_bound(_charge(model="per_unit", unit_price="0")) is None
    package = _charge(model="package", package_size=10, package_price="3", free_units=5)
    assert charge_quantity_bound(package) == 5 + (LINE_LIMIT // 3) * 10
    percentage = _charge(model="percentage", rate="50", per_transaction_fee="0.99")
    assert charge_quantity_bound(percentage) == (LINE_LIMIT - Decimal("0.99")) * 2
    graduated = _charge(
        model="graduated",
        tiers=[{"up_to": 10, "unit_price": "1", "flat_fee": "5"}, {"up_to": None, "unit_price": "2"}],
    )
    assert charge_quantity_bound(graduated) == 10 + (LINE_LIMIT - 15) / 2
    free_then_priced = _charge(
        model="volume", tiers=[{"up_to": 100, "unit_price": "0"}, {"up_to": None, "unit_price": "1000000"}]
    )
    assert charge_quantity_bound(free_then_priced) == LINE_LIMIT / 1_000_000


def test_a_metric_is_bounded_by_its_tightest_charge():
    charges = [
        _charge(model="per_unit", unit_price="1"),
        _charge(model="per_unit", unit_price="4"),
        charge_adapter.validate_python({"model": "per_unit", "metric": "other", "unit_price": "0"}),
        charge_adapter.validate_python({"model": "flat", "amount": "10"}),
    ]
    assert metric_quantity_bounds(charges) == {"m": LINE_LIMIT / 4}


prices = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(0, 999_999),
    st.integers(-12, 8),
)
tier_tops = st.lists(st.integers(1, 10**16), min_size=0, max_size=3, unique=True).map(sorted)


@st.composite
def tiers(draw):
    tops = draw(tier_tops)
    return [{"up_to": top, "unit_price": draw(prices), "flat_fee": draw(prices)} for top in [*tops, None]]


charges = st.one_of(
    st.builds(lambda p: _charge(model="per_unit", unit_price=p), prices),
    st.builds(
        lambda size, p, free: _charge(model="package", package_size=size, package_price=p, free_units=free),
        st.integers(1, 10**6),
        prices,
        st.integers(0, 10**6),
    ),
    st.builds(lambda r, fee: _charge(model="percentage", rate=r, per_transaction_fee=fee), prices, prices),
    st.builds(lambda t: _charge(model="graduated", tiers=t), tiers()),
    st.builds(lambda t: _charge(model="volume", tiers=t), tiers()),
)


@settings(max_examples=400)
@given(charges)
def test_every_quantity_up_to_the_bound_is_billable_and_one_step_past_it_is_not(charge):
    bound = charge_quantity_bound(charge)
    if bound is None:  # nothing priced per unit: any quantity is billable
        assert _price(charge, Decimal(10) ** 29) <= LINE_LIMIT
        return
    tops = [Decimal(t.up_to) for t in getattr(charge, "tiers", ()) if t.up_to is not None]
    for quantity in [bound, *(top for top in tops if top <= bound)]:
        assert _price(charge, quantity) <= LINE_LIMIT  # the most each stretch up to the bound bills
    step = Decimal(1).scaleb(bound.adjusted() - 59) if bound else Decimal("1e-30")
    assert _price(charge, EXACT.add(bound, step)) > LINE_LIMIT
