"""Every SQL aggregation equals the core's definition (billing.core.metering) on the same events.

Runs on SQLite and PostgreSQL: random events over several customers and segments, with the
awkward cases placed on purpose (ties on `latest`, numbers written differently, filters on
strings, numbers and booleans, values with more digits than a float holds).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent
from billing.core.metering import measure
from billing.store.metering_sql import meter_segments
from billing.store.usage_events import insert_events

T0 = datetime(2026, 3, 1, tzinfo=UTC)

CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "calls", "event_type": "call", "aggregation": "count"},
            {"code": "eu_calls", "event_type": "call", "aggregation": "count", "filters": {"region": "eu"}},
            {"code": "gb_sum", "event_type": "store", "aggregation": "sum", "field": "gb"},
            {
                "code": "gb_max",
                "event_type": "store",
                "aggregation": "max",
                "field": "gb",
                "filters": {"tier": 2},
            },
            {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
            {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
            {
                "code": "paid",
                "event_type": "pay",
                "aggregation": "sum",
                "field": "amount",
                "filters": {"live": True},
            },
        ],
        "plans": [
            {
                "code": "p",
                "interval": "monthly",
                "charges": [{"model": "percentage", "metric": "paid", "rate": "1"}],
            }
        ],
        "customers": [{"id": f"c{i}", "email": f"c{i}@x.example"} for i in range(4)],
    }
)


def _random_events(rng: random.Random, count: int) -> list[UsageEvent]:
    events = []
    for n in range(count):
        customer = f"c{rng.randrange(4)}"
        kind = rng.choice(["call", "store", "login", "seat", "pay", "other"])
        at = T0 + timedelta(seconds=rng.randrange(0, 20 * 86400))
        props: dict[str, object] = {}
        if kind == "call":
            props = {"region": rng.choice(["eu", "us", "EU"])}
        elif kind == "store":
            props = {
                "gb": Decimal(rng.choice(["0.1", "12.50", "-3", "1E+2", "123456789012345678901.000000001"])),
                "tier": rng.choice([Decimal(2), Decimal("2.0"), Decimal(3), "2"]),
            }
        elif kind == "login":
            props = {"user": rng.choice(["u1", "u2", "u3", Decimal(1), Decimal("1.0"), "1"])}
        elif kind == "seat":
            props = {"n": Decimal(rng.randrange(1, 50))}
            at = T0 + timedelta(days=rng.randrange(0, 20))  # many exact ties on the timestamp
        elif kind == "pay":
            props = {"amount": Decimal(rng.randrange(1, 10**6)) / 100, "live": rng.choice([True, False, 1])}
        if kind != "call" and rng.random() < 0.1:  # stored before a metric asked for this field
            props = {k: v for k, v in props.items() if k not in ("gb", "user", "n", "amount")}
        elif kind != "call" and rng.random() < 0.1:  # a JSON null in the field: no value, as absent
            props = {k: None if k in ("gb", "user", "n", "amount") else v for k, v in props.items()}
        events.append(UsageEvent(f"t{n:05d}-{rng.randrange(10**6)}", customer, kind, at, props))
    return events


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_aggregates_equal_the_core_definition(engine, seed):
    rng = random.Random(seed)
    events = _random_events(rng, 600)
    with engine.begin() as connection:
        insert_events(connection, events, set(), T0)
    segments = [
        (f"c{i}", T0 + timedelta(days=start), T0 + timedelta(days=end))
        for i in range(4)
        for start, end in [(0, 7), (7, 20), (3, 4), (25, 30)]
    ]
    with engine.connect() as connection:
        measured = meter_segments(connection, CATALOG, segments)
    for customer, start, end in segments:
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        expected = measure(CATALOG.metrics, inside, CATALOG.event_counted_metrics)
        assert measured[(customer, start, end)] == expected, (customer, start, end)


def test_event_counts_are_reported_for_counts_and_per_event_charges():
    assert CATALOG.event_counted_metrics == {"calls", "eu_calls", "paid"}


def test_latest_breaks_timestamp_ties_on_the_greatest_transaction_id(engine):
    at = T0 + timedelta(hours=1)
    events = [
        UsageEvent("b-2", "c0", "seat", at, {"n": Decimal(2)}),
        UsageEvent("a-9", "c0", "seat", at, {"n": Decimal(9)}),
        UsageEvent("B-7", "c0", "seat", at, {"n": Decimal(7)}),  # uppercase sorts before lowercase
        UsageEvent("b-10", "c0", "seat", at, {"n": Decimal(10)}),
    ]
    with engine.begin() as connection:
        insert_events(connection, events, set(), T0)
    key = ("c0", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        got = meter_segments(connection, CATALOG, [key])[key]["seats"].quantity
    assert got == measure(CATALOG.metrics, events)["seats"].quantity == Decimal(2)


def test_a_segment_without_events_measures_zero(engine):
    key = ("c1", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        usage = meter_segments(connection, CATALOG, [key])[key]
    assert all(u.quantity == 0 for u in usage.values())


@pytest.mark.parametrize("chosen", [None, ["seats"], ["calls", "users"]])
def test_a_segment_holding_only_types_no_metric_meters_measures_zero(engine, chosen):
    """Metering every metric leaves out the WHERE on event types (each aggregate filters its
    own type), metering some keeps it: either way events of a type no metric counts (an older
    catalog's) change nothing, and a segment holding only those measures zero."""
    at = T0 + timedelta(hours=2)
    others = [UsageEvent(f"o{n}", "c2", "other", at, {"n": Decimal(n), "user": "u1"}) for n in range(5)]
    seat = UsageEvent("s1", "c3", "seat", at, {"n": Decimal(4)})
    with engine.begin() as connection:
        insert_events(connection, [*others, seat], set(), T0)
    metrics = None if chosen is None else [CATALOG.metric(code) for code in chosen]
    only_others, mixed = ("c2", T0, T0 + timedelta(days=1)), ("c3", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        measured = meter_segments(connection, CATALOG, [only_others, mixed], metrics)
    wanted = CATALOG.metrics if metrics is None else metrics
    assert measured[only_others] == measure(wanted, [], CATALOG.event_counted_metrics)
    assert measured[mixed] == measure(wanted, [seat], CATALOG.event_counted_metrics)
