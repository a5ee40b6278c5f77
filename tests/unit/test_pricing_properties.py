"""Properties of the pure pricing core (no database), checked with hypothesis.

- totals never decrease as the quantity grows (graduated, per_unit, package);
- metering and rating do not depend on event order (`latest` ties go to the greatest
  transaction_id, `unique_count` compares canonical values);
- metering two batches and merging the meters gives the usage and the lines of metering all;
- every line is rounded once, half-up, to exactly the currency's minor-unit exponent, and the
  subtotal is the sum of the rounded lines;
- a quote is the full-coverage charges plus true-up that `rate_charges` produces.

Numbers are `Decimal` throughout, never floats. Example counts are kept small so the file runs in a
few seconds.

The package properties caught two bugs in `PackageCharge.packages`, both fixed in the working tree
while this file was written (see tests/unit/test_pricing_examples.py): it billed floor instead of
ceil packages (size 2, quantity 1: 0 packages), then raised `decimal.Inexact` when billable /
package_size does not terminate (size 3, quantity 1).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import Catalog, Metric, parse_catalog
from billing.core.events import UsageEvent
from billing.core.metering import Meter, measure
from billing.core.money import Currency, format_amount
from billing.core.pricing import charge_adapter, price_charge
from billing.core.pricing.base import FULL_COVERAGE, Coverage, MeteredUsage
from billing.core.rating import InvoiceLine, PeriodCharges, quote, rate_charges

FEW = settings(max_examples=60, deadline=None)
SOME = settings(max_examples=100, deadline=None)

CURRENCIES = [Currency.of(code) for code in ("USD", "JPY", "KWD")]


# -- strategies --------------------------------------------------------------------------------


def _scaled(digits: int, max_places: int) -> st.SearchStrategy[Decimal]:
    """Non-negative decimals n x 10^-p, exact, with up to `max_places` decimals."""
    return st.builds(
        lambda n, p: Decimal(n).scaleb(-p), st.integers(0, 10**digits), st.integers(0, max_places)
    )


prices = _scaled(9, 12)  # unit prices and fees: up to 12 decimals (SPEC §4)
quantities = _scaled(7, 4)  # exact decimal quantities
positive_quantities = quantities.filter(lambda q: q > 0)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(set(draw(st.lists(positive_quantities, max_size=4))))
    rows: list[Decimal | None] = [*bounds, None]
    return [{"up_to": b, "unit_price": draw(prices), "flat_fee": draw(prices)} for b in rows]


def graduated(tiers: list[dict[str, Any]], metric: str = "units") -> Any:
    return charge_adapter.validate_python({"model": "graduated", "metric": metric, "tiers": tiers})


def per_unit(price: Decimal, metric: str = "units") -> Any:
    return charge_adapter.validate_python({"model": "per_unit", "metric": metric, "unit_price": price})


def package(size: Decimal, price: Decimal, free: Decimal, metric: str = "units") -> Any:
    return charge_adapter.validate_python(
        {
            "model": "package",
            "metric": metric,
            "package_size": size,
            "package_price": price,
            "free_units": free,
        }
    )


def exact(charge: Any, quantity: Decimal, events: int = 0) -> Decimal:
    return price_charge(charge, MeteredUsage(quantity, events), FULL_COVERAGE).amount


def ordered_pair(a: Decimal, b: Decimal) -> tuple[Decimal, Decimal]:
    return (a, b) if a <= b else (b, a)


def half_up(value: Fraction, currency: Currency) -> Decimal:
    """The independent oracle: round a non-negative exact value half-up to minor units."""
    units = math.floor(value * 10**currency.minor_units + Fraction(1, 2))
    return Decimal(units).scaleb(-currency.minor_units)


# -- monotonic totals --------------------------------------------------------------------------


@FEW
@given(tier_lists(), quantities, quantities)
def test_graduated_total_never_decreases(tiers: list[dict[str, Any]], a: Decimal, b: Decimal) -> None:
    low, high = ordered_pair(a, b)
    charge = graduated(tiers)
    assert exact(charge, low) <= exact(charge, high)


@FEW
@given(tier_lists(), quantities)
def test_graduated_matches_unit_by_unit_definition(tiers: list[dict[str, Any]], quantity: Decimal) -> None:
    # SPEC §4: each unit at the tier it falls in (up_to inclusive), a tier's flat fee once when any
    # unit reaches it, nothing at all for a quantity of 0.
    # The oracle works in Fractions: Decimal's default 28-digit context would round.
    expected = Fraction(0)
    lower = Decimal(0)
    for tier in tiers:
        upper = tier["up_to"]
        if quantity <= lower:
            break
        top = quantity if upper is None else min(quantity, upper)
        expected += (Fraction(top) - Fraction(lower)) * Fraction(tier["unit_price"]) + Fraction(
            tier["flat_fee"]
        )
        if upper is None:
            break
        lower = upper
    assert Fraction(exact(graduated(tiers), quantity)) == expected


@FEW
@given(tier_lists(), positive_quantities)
def test_volume_prices_every_unit_at_the_tier_holding_the_total(
    tiers: list[dict[str, Any]], quantity: Decimal
) -> None:
    tier = next(t for t in tiers if t["up_to"] is None or quantity <= t["up_to"])
    charge = charge_adapter.validate_python({"model": "volume", "metric": "units", "tiers": tiers})
    expected = Fraction(quantity) * Fraction(tier["unit_price"]) + Fraction(tier["flat_fee"])
    assert Fraction(exact(charge, quantity)) == expected


@FEW
@given(prices, quantities, quantities)
def test_per_unit_total_never_decreases(price: Decimal, a: Decimal, b: Decimal) -> None:
    low, high = ordered_pair(a, b)
    charge = per_unit(price)
    assert exact(charge, low) <= exact(charge, high)
    assert Fraction(exact(charge, high)) == Fraction(high) * Fraction(price)


@FEW
@given(positive_quantities, prices, quantities, quantities, quantities)
def test_package_total_never_decreases(
    size: Decimal, price: Decimal, free: Decimal, a: Decimal, b: Decimal
) -> None:
    low, high = ordered_pair(a, b)
    charge = package(size, price, free)
    assert exact(charge, low) <= exact(charge, high)


@FEW
@given(positive_quantities, prices, quantities, quantities)
def test_package_bills_enough_packages_for_every_billable_unit(
    size: Decimal, price: Decimal, free: Decimal, quantity: Decimal
) -> None:
    # SPEC §4: billed packages = ceil(max(0, quantity - free_units) / package_size): the smallest
    # whole number of packages that holds every billable unit.
    # Guards both package bugs found so far: flooring (size 2, quantity 1 billed 0 packages) and
    # dividing in the EXACT context (size 3, quantity 1 raised decimal.Inexact).
    charge = package(size, price, free)
    billable = max(Fraction(0), Fraction(quantity) - Fraction(free))
    count = Fraction(charge.packages(quantity))
    assert count.denominator == 1
    assert count * Fraction(size) >= billable  # every billable unit is in a billed package
    assert (count - 1) * Fraction(size) < billable or count == 0  # and no package more than needed
    assert Fraction(exact(charge, quantity)) == count * Fraction(price)


# -- metering: order, batches, latest, unique_count --------------------------------------------

METRICS = (
    Metric(code="calls", event_type="api_call", aggregation="count"),
    Metric(code="eu_calls", event_type="api_call", aggregation="count", filters={"region": "eu"}),
    Metric(code="users", event_type="api_call", aggregation="unique_count", field="user"),
    Metric(code="gb", event_type="storage", aggregation="sum", field="gb"),
    Metric(code="peak_gb", event_type="storage", aggregation="max", field="gb"),
    Metric(code="seats", event_type="seats", aggregation="latest", field="seats"),
)

CATALOG: Catalog = parse_catalog(
    {
        "currency": "USD",
        "metrics": [m.model_dump(mode="json", exclude_none=True) for m in METRICS],
        "plans": [
            {
                "code": "all",
                "interval": "monthly",
                "name": "All models",
                "minimum_commitment": "500.00",
                "charges": [
                    {"model": "flat", "amount": "30.00"},
                    {
                        "metric": "calls",
                        "model": "graduated",
                        "tiers": [
                            {"up_to": 5, "unit_price": "7.00", "flat_fee": "1.00"},
                            {"up_to": 10, "unit_price": "6.50"},
                            {"up_to": None, "unit_price": "6.00", "flat_fee": "2.50"},
                        ],
                    },
                    {"metric": "eu_calls", "model": "per_unit", "unit_price": "0.333333333333"},
                    {"metric": "users", "model": "package", "package_size": 2, "package_price": "4.00"},
                    {"metric": "gb", "model": "percentage", "rate": "2.9", "per_transaction_fee": "0.30"},
                    {
                        "metric": "peak_gb",
                        "model": "volume",
                        "tiers": [{"up_to": 10, "unit_price": "0.125"}, {"up_to": None, "unit_price": "0.1"}],
                    },
                    {"metric": "seats", "model": "per_unit", "unit_price": "9.99"},
                ],
            }
        ],
    }
)

BASE = datetime(2026, 1, 15, tzinfo=UTC)
instants = st.integers(0, 3).map(lambda minutes: BASE + timedelta(minutes=minutes))  # few: forces ties
amounts = _scaled(5, 3)
user_ids = st.one_of(
    st.sampled_from(["u1", "u2", "1", "2"]),
    st.sampled_from([Decimal("1"), Decimal("1.0"), Decimal("2"), Decimal("2.00")]),
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["api_call", "storage", "seats", "other"]))
    if kind == "api_call":
        return kind, {"region": draw(st.sampled_from(["eu", "us"])), "user": draw(user_ids)}
    if kind == "storage":
        return kind, {"gb": draw(amounts)}
    if kind == "seats":
        return kind, {"seats": draw(st.integers(0, 50).map(Decimal))}
    return kind, {}


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 25) -> list[UsageEvent]:
    ids = draw(st.lists(st.text(alphabet="abc019_", min_size=1, max_size=4), unique=True, max_size=max_size))
    events = []
    for transaction_id in ids:
        kind, properties = draw(payloads())
        events.append(UsageEvent(transaction_id, "acme", kind, draw(instants), properties))
    return events


def rate(usage: dict[str, MeteredUsage], catalog: Catalog = CATALOG) -> PeriodCharges:
    plan = catalog.plans[0]
    return rate_charges(
        plan.charges,
        usage,
        metrics=catalog.metrics_by_code,
        currency=catalog.currency,
        minimum=plan.minimum_commitment,
        plan_label=plan.label,
    )


@SOME
@given(st.data(), event_lists())
def test_metering_and_rating_do_not_depend_on_event_order(
    data: st.DataObject, events: list[UsageEvent]
) -> None:
    shuffled = data.draw(st.permutations(events))
    usage = measure(METRICS, events)
    assert measure(METRICS, shuffled) == usage
    assert measure(METRICS, reversed(events)) == usage
    assert rate(measure(METRICS, shuffled)).lines == rate(usage).lines


@SOME
@given(st.data(), event_lists())
def test_latest_takes_greatest_timestamp_then_greatest_transaction_id(
    data: st.DataObject, events: list[UsageEvent]
) -> None:
    seats = [e for e in events if e.event_type == "seats"]
    expected = max(seats, key=lambda e: (e.timestamp, e.transaction_id)).properties["seats"] if seats else 0
    for order in (events, data.draw(st.permutations(events))):
        assert measure(METRICS, order)["seats"] == MeteredUsage(Decimal(expected), len(seats))


def test_latest_tie_on_timestamp_goes_to_greatest_transaction_id() -> None:
    # Two readings at the same instant: "evt_b" > "evt_a", so 3 wins whatever the order.
    a = UsageEvent("evt_a", "acme", "seats", BASE, {"seats": Decimal(5)})
    b = UsageEvent("evt_b", "acme", "seats", BASE, {"seats": Decimal(3)})
    earlier = UsageEvent("evt_z", "acme", "seats", BASE - timedelta(seconds=1), {"seats": Decimal(9)})
    for order in ([a, b, earlier], [b, a, earlier], [earlier, b, a], [earlier, a, b]):
        assert measure(METRICS, order)["seats"] == MeteredUsage(Decimal(3), 3)


@SOME
@given(st.data(), event_lists())
def test_unique_count_counts_distinct_values_in_any_order(
    data: st.DataObject, events: list[UsageEvent]
) -> None:
    calls = [e for e in events if e.event_type == "api_call"]
    # Distinct by canonical value: the string "1" and the number 1 differ; 1 and 1.0 do not.
    distinct = {(isinstance(v, str), v) for v in (e.properties["user"] for e in calls)}
    for order in (events, data.draw(st.permutations(events))):
        assert measure(METRICS, order)["users"] == MeteredUsage(Decimal(len(distinct)), len(calls))


def test_unique_count_canonical_forms() -> None:
    values = ["1", Decimal("1"), Decimal("1.0"), Decimal("1.00"), "1.0"]
    events = [
        UsageEvent(f"t{i}", "acme", "api_call", BASE, {"region": "us", "user": v})
        for i, v in enumerate(values)
    ]
    # "1", 1 (== 1.0 == 1.00), "1.0": three distinct users over five events.
    assert measure(METRICS, events)["users"] == MeteredUsage(Decimal(3), 5)


@SOME
@given(st.data(), event_lists())
def test_merging_two_batches_equals_metering_all(data: st.DataObject, events: list[UsageEvent]) -> None:
    shuffled = data.draw(st.permutations(events))
    cut = data.draw(st.integers(0, len(shuffled)))
    first, second = shuffled[:cut], shuffled[cut:]
    merged = Meter(METRICS).add(first).merge(Meter(METRICS).add(second)).usage()
    usage = measure(METRICS, events)
    assert merged == usage
    # Merging is symmetric too.
    assert Meter(METRICS).add(second).merge(Meter(METRICS).add(first)).usage() == usage
    assert rate(merged).lines == rate(usage).lines


# -- rounding: once, half-up, exactly the minor-unit exponent ---------------------------------

usage_charges = st.one_of(
    st.builds(lambda p: {"model": "per_unit", "unit_price": p}, prices),
    st.builds(
        lambda s, p, f: {"model": "package", "package_size": s, "package_price": p, "free_units": f},
        positive_quantities,
        prices,
        quantities,
    ),
    st.builds(lambda t: {"model": "graduated", "tiers": t}, tier_lists()),
    st.builds(lambda t: {"model": "volume", "tiers": t}, tier_lists()),
    st.builds(lambda r, f: {"model": "percentage", "rate": r, "per_transaction_fee": f}, prices, prices),
)
flat_charges = st.builds(
    lambda a, t, p: {"model": "flat", "amount": a, "timing": t, "prorate": p},
    prices,
    st.sampled_from(["in_advance", "in_arrears"]),
    st.booleans(),
)


@st.composite
def coverages(draw: st.DrawFn) -> Coverage:
    period_days = draw(st.integers(1, 92))
    return Coverage(draw(st.integers(1, period_days)), period_days)


@st.composite
def plans(draw: st.DrawFn) -> tuple[tuple[Any, ...], dict[str, MeteredUsage]]:
    """A few charges, each usage charge on its own metric, and that metric's usage."""
    charges = []
    usage = {}
    for index, fields in enumerate(
        draw(st.lists(st.one_of(usage_charges, flat_charges), min_size=1, max_size=5))
    ):
        if fields["model"] != "flat":
            fields = {**fields, "metric": f"m{index}"}
            usage[f"m{index}"] = MeteredUsage(draw(quantities), draw(st.integers(0, 1000)))
        charges.append(charge_adapter.validate_python(fields))
    return tuple(charges), usage


def metrics_for(usage: dict[str, MeteredUsage]) -> dict[str, Metric]:
    return {code: Metric(code=code, event_type=code, aggregation="sum", field="v") for code in usage}


def exact_line_value(charge: Any, usage: dict[str, MeteredUsage], coverage: Coverage) -> Fraction:
    code = charge.metric_code
    priced = price_charge(charge, usage[code] if code else MeteredUsage(), coverage)
    value = Fraction(priced.amount)
    if priced.prorated is not None:
        value = value * priced.prorated.days / priced.prorated.period_days
    return value


@SOME
@given(plans(), st.sampled_from(CURRENCIES), coverages(), st.none() | prices)
def test_lines_are_rounded_once_half_up_to_minor_units(
    plan: tuple[tuple[Any, ...], dict[str, MeteredUsage]],
    currency: Currency,
    coverage: Coverage,
    minimum: Decimal | None,
) -> None:
    charges, usage = plan
    rated = rate_charges(
        charges, usage, metrics=metrics_for(usage), currency=currency, coverage=coverage, minimum=minimum
    )
    for charge, line in zip(charges, rated.lines, strict=False):
        assert line.amount.as_tuple().exponent == -currency.minor_units
        assert line.amount == half_up(exact_line_value(charge, usage, coverage), currency)
        text = format_amount(line.amount, currency)
        assert len(text.partition(".")[2]) == currency.minor_units
        # Each tier shows its share of the rounded line: the running exact total rounded, less
        # the tiers before; so the tiers are at minor units and add up to the line.
        exact_tiers = price_charge(
            charge, usage.get(charge.metric_code or "", MeteredUsage()), coverage
        ).tiers
        running = Fraction(0)
        shown_so_far = Decimal(0)
        for exact_tier, shown in zip(exact_tiers, line.tiers, strict=True):
            running += Fraction(exact_tier.amount)
            assert shown.amount == half_up(running, currency) - shown_so_far
            assert shown.amount.as_tuple().exponent == -currency.minor_units
            shown_so_far += shown.amount
        if line.tiers:
            assert sum((t.amount for t in line.tiers), Decimal(0)) == line.amount
    assert all(line.amount.as_tuple().exponent == -currency.minor_units for line in rated.lines)
    assert Fraction(rated.subtotal) == sum(Fraction(line.amount) for line in rated.lines)
    assert rated.subtotal.as_tuple().exponent == -currency.minor_units
    # The true-up, when there is one, lifts the subtotal exactly to the prorated minimum.
    usage_and_flat = rated.lines[: len(charges)]
    charged = sum(Fraction(line.amount) for line in usage_and_flat)
    if minimum is None:
        assert len(rated.lines) == len(charges)
    else:
        floor = half_up(Fraction(minimum) * coverage.days / coverage.period_days, currency)
        if charged < floor:
            (true_up,) = rated.lines[len(charges) :]
            assert true_up.kind == "minimum"
            assert rated.subtotal == floor
        else:
            assert len(rated.lines) == len(charges)
            assert Fraction(rated.subtotal) == charged


# -- quotes equal full-coverage rating -----------------------------------------------------------


def comparable(line: InvoiceLine) -> tuple[Any, ...]:
    """A line without its key (a quote keys its lines "quote/...")."""
    return (line.kind, line.description, line.metric, line.quantity, line.amount, line.tiers, line.timing)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    currency = draw(st.sampled_from(["USD", "JPY", "KWD"]))
    # a minimum commitment is an amount: at most the currency's minor-unit digits (SPEC §4)
    minimum = draw(st.none() | _scaled(4, min(2, Currency.of(currency).minor_units)))
    plan: dict[str, Any] = {
        "code": "p",
        "name": "Plan",
        "interval": "monthly",
        "charges": CATALOG.plans[0].model_dump(mode="json")["charges"],
    }
    if minimum is not None:
        plan["minimum_commitment"] = minimum
    return parse_catalog(
        {
            "currency": currency,
            "metrics": [m.model_dump(mode="json", exclude_none=True) for m in METRICS],
            "plans": [plan],
        }
    )


@FEW
@given(catalogs(), event_lists())
def test_quote_equals_full_coverage_charges_plus_true_up(catalog: Catalog, events: list[UsageEvent]) -> None:
    usage = measure(catalog.metrics, events)
    result = quote(catalog, "p", usage)
    rated = rate(usage, catalog)
    assert [comparable(x) for x in result.lines] == [comparable(x) for x in rated.lines]
    assert result.total == result.subtotal == rated.subtotal
    # And independently of rate_charges: each charge rounded on its own, plus any true-up.
    plan = catalog.plan("p")
    currency = catalog.currency
    charged = sum(
        Fraction(half_up(exact_line_value(c, usage, FULL_COVERAGE), currency)) for c in plan.charges
    )
    minimum = plan.minimum_commitment
    floor = Fraction(0) if minimum is None else Fraction(half_up(Fraction(minimum), currency))
    assert Fraction(result.total) == max(charged, floor)
    assert [x.kind for x in result.lines].count("minimum") == (1 if charged < floor else 0)
