"""Merging added events into stored aggregates (`Meter.resume`) measures what metering every
event together measures, for each aggregation: the rule a preview relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent, dumps
from billing.core.metering import Meter, MetricState, measure, metric_applies

T0 = datetime(2026, 3, 1, tzinfo=UTC)

CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "calls", "event_type": "call", "aggregation": "count"},
            {"code": "eu_calls", "event_type": "call", "aggregation": "count", "filters": {"region": "eu"}},
            {"code": "gb_sum", "event_type": "store", "aggregation": "sum", "field": "gb"},
            {"code": "gb_max", "event_type": "store", "aggregation": "max", "field": "gb"},
            {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
            {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
            {"code": "paid", "event_type": "pay", "aggregation": "sum", "field": "amount"},
        ],
        "plans": [
            {
                "code": "p",
                "interval": "monthly",
                "charges": [{"model": "percentage", "metric": "paid", "rate": "1"}],
            }
        ],
    }
)
METRICS = CATALOG.metrics
COUNTED = CATALOG.event_counted_metrics

numbers = st.sampled_from(["-3", "0", "0.1", "12.50", "12.5", "1E+2", "100", "123456789012345678901.5"]).map(
    Decimal
)
kinds = st.sampled_from(["call", "store", "login", "seat", "pay", "other"])


@st.composite
def events(draw: st.DrawFn) -> list[UsageEvent]:
    found = []
    for n in range(draw(st.integers(0, 40))):
        kind = draw(kinds)
        at = T0 + timedelta(hours=draw(st.integers(0, 5)))  # few instants: many ties on `latest`
        props: dict[str, object] = {}
        if kind == "call":
            props = {"region": draw(st.sampled_from(["eu", "us"]))}
        elif kind == "store":
            props = {"gb": draw(numbers)}
        elif kind == "login":
            props = {"user": draw(st.sampled_from(["u1", "u2", "1", Decimal(1), Decimal("1.0"), Decimal(2)]))}
        elif kind in ("seat", "pay"):
            props = {"n" if kind == "seat" else "amount": draw(numbers)}
        if kind != "call" and draw(st.booleans()) and draw(st.booleans()):
            props = {}  # stored before the metric asked for its field
        found.append(UsageEvent(f"{draw(st.sampled_from('abAB'))}-{n}", "c", kind, at, props))
    return found


def known_values(stored: list[UsageEvent], added: list[UsageEvent]) -> dict[str, set[str]]:
    """What the store's lookup answers: the added distinct values the stored events hold."""
    known = {}
    for metric in METRICS:
        if metric.aggregation != "unique_count" or metric.field is None:
            continue

        def values(batch: list[UsageEvent], field: str = metric.field) -> set[str]:
            return {
                dumps(e.properties[field])
                for e in batch
                if metric_applies(metric, e.event_type, e.properties) and e.properties.get(field) is not None
            }

        known[metric.code] = values(stored) & values(added)
    return known


def merged(stored: list[UsageEvent], added: list[UsageEvent]):
    states = Meter(METRICS, COUNTED).add(stored).states()
    meter = Meter.resume(METRICS, states, COUNTED, known_values(stored, added))
    return meter.merge(Meter(METRICS, COUNTED).add(added)).usage()


@settings(max_examples=300, deadline=None)
@given(events(), st.data())
def test_merging_added_events_into_stored_states_equals_metering_them_all(all_events, data):
    split = data.draw(st.lists(st.booleans(), min_size=len(all_events), max_size=len(all_events)))
    stored = [e for e, s in zip(all_events, split, strict=True) if s]
    added = [e for e, s in zip(all_events, split, strict=True) if not s]
    assert merged(stored, added) == measure(METRICS, all_events, COUNTED)


def test_merge_of_nothing_is_the_stored_usage():
    stored = [
        UsageEvent("a", "c", "store", T0, {"gb": Decimal("-3")}),
        UsageEvent("b", "c", "seat", T0, {"n": Decimal(4)}),
        UsageEvent("c", "c", "login", T0, {"user": "u1"}),
    ]
    assert merged(stored, []) == measure(METRICS, stored, COUNTED)


def test_each_aggregation_by_hand():
    stored = [
        UsageEvent("s1", "c", "store", T0, {"gb": Decimal(5)}),
        UsageEvent("s2", "c", "login", T0, {"user": "u1"}),
        UsageEvent("s3", "c", "login", T0, {"user": "u2"}),
        UsageEvent("b-9", "c", "seat", T0 + timedelta(hours=2), {"n": Decimal(9)}),
    ]
    added = [
        UsageEvent("a1", "c", "store", T0, {"gb": Decimal(7)}),
        UsageEvent("a2", "c", "login", T0, {"user": "u2"}),  # already stored: counted once
        UsageEvent("a3", "c", "login", T0, {"user": "u3"}),
        UsageEvent("a-5", "c", "seat", T0 + timedelta(hours=2), {"n": Decimal(5)}),  # tie: b-9 wins
    ]
    usage = merged(stored, added)
    assert usage["gb_sum"].quantity == 12
    assert usage["gb_max"].quantity == 7
    assert usage["users"].quantity == 3
    assert usage["seats"].quantity == 9


def test_a_max_over_negative_values_is_not_lifted_to_zero_by_an_empty_store():
    added = [UsageEvent("a", "c", "store", T0, {"gb": Decimal(-3)})]
    assert merged([], added)["gb_max"].quantity == -3


def test_inconsistent_states_are_refused():
    users = next(m for m in METRICS if m.code == "users")
    seats = next(m for m in METRICS if m.code == "seats")
    with pytest.raises(ValueError, match="known values"):
        Meter.resume([users], {"users": MetricState(1, distinct=1)}, known={"users": {'"a"', '"b"'}})
    with pytest.raises(ValueError, match="timestamp"):
        Meter.resume([seats], {"seats": MetricState(1, Decimal(1))})
