"""The stored aggregates a preview merges into (`stored_states`) and its lookup of stored
distinct values (`stored_values_among`) equal the core's definitions, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent, dumps
from billing.core.metering import Meter, MetricState
from billing.store.metering_sql import stored_states, stored_values_among
from billing.store.usage_events import insert_events
from tests.integration.test_metering_sql import CATALOG, T0, _random_events

SEGMENTS = [(0, 7), (7, 20), (3, 4), (25, 30)]


@pytest.mark.parametrize("seed", [1, 2])
def test_stored_states_equal_the_core_states(engine, seed):
    events = _random_events(random.Random(seed), 600)
    with engine.begin() as connection:
        insert_events(connection, events, set(), T0)
    keys = [
        (f"c{i}", T0 + timedelta(days=start), T0 + timedelta(days=end))
        for i in range(4)
        for start, end in SEGMENTS
    ]
    with engine.connect() as connection:
        states = stored_states(connection, CATALOG, keys)
    for customer, start, end in keys:
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        expected = Meter(CATALOG.metrics).add(inside).states()
        assert states[(customer, start, end)] == expected, (customer, start, end)


def test_the_latest_key_is_the_greatest_timestamp_then_transaction_id(engine):
    at = T0 + timedelta(hours=1)
    events = [
        UsageEvent("b-2", "c0", "seat", at, {"n": Decimal(2)}),
        UsageEvent("B-7", "c0", "seat", at, {"n": Decimal(7)}),  # uppercase sorts before lowercase
        UsageEvent("b-10", "c0", "seat", at, {"n": Decimal(10)}),
        UsageEvent("z-1", "c0", "seat", at - timedelta(microseconds=1), {"n": Decimal(1)}),
        UsageEvent("zz", "c0", "seat", at + timedelta(minutes=1), {}),  # no value: not the latest
    ]
    with engine.begin() as connection:
        insert_events(connection, events, set(), T0)
    key = ("c0", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        seats = stored_states(connection, CATALOG, [key])[key]["seats"]
    assert seats == MetricState(5, Decimal(2), latest=(at, "b-2"))


def test_an_empty_segment_has_empty_states(engine):
    key = ("c1", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        states = stored_states(connection, CATALOG, [key])[key]
    assert states == Meter(CATALOG.metrics).states()
    assert states["gb_max"].value is None and states["seats"].latest is None


def test_stored_values_are_found_by_value_in_their_canonical_form(engine):
    users = next(m for m in CATALOG.metrics if m.code == "users")
    stored = [
        UsageEvent("l1", "c0", "login", T0, {"user": "u1"}),
        UsageEvent("l2", "c0", "login", T0, {"user": Decimal("1.0")}),
        UsageEvent("l3", "c0", "login", T0, {"user": 'é "quoted" \\'}),
        UsageEvent("l4", "c1", "login", T0, {"user": "u2"}),  # another customer
        UsageEvent("l5", "c0", "login", T0 + timedelta(days=2), {"user": "u3"}),  # another segment
        UsageEvent("l6", "c0", "seat", T0, {"user": "u4"}),  # another metric
    ]
    with engine.begin() as connection:
        insert_events(connection, stored, set(), T0)
    key = ("c0", T0, T0 + timedelta(days=1))
    asked = {dumps(v) for v in ["u1", Decimal(1), "1", 'é "quoted" \\', "u2", "u3", "u4", "u9"]}
    with engine.connect() as connection:
        found = stored_values_among(connection, users, key, asked)
    assert found == {dumps("u1"), dumps(Decimal(1)), dumps('é "quoted" \\')}


def test_constants_with_percent_signs_and_quotes_are_literal_text(engine):
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [
                {"code": "m", "event_type": "x'%s", "aggregation": "count", "filters": {"tag": "50%'"}},
            ],
            "plans": [
                {
                    "code": "p",
                    "interval": "monthly",
                    "charges": [{"metric": "m", "model": "per_unit", "unit_price": "1"}],
                }
            ],
        }
    )
    events = [
        UsageEvent("p1", "c0", "x'%s", T0, {"tag": "50%'"}),
        UsageEvent("p2", "c0", "x'%s", T0, {"tag": "50%"}),
    ]
    with engine.begin() as connection:
        insert_events(connection, events, set(), T0)
    key = ("c0", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        assert stored_states(connection, catalog, [key])[key]["m"] == MetricState(1)
