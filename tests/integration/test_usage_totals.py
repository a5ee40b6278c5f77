"""`GET /v1/customers/{id}/usage`'s totals per metric are the running invoice's own quantities:
the period is read once, by the preview, and merged across its segments; on SQLite and
PostgreSQL, for every aggregation, for a period of one contract and one split by a plan change."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent
from billing.core.metering import measure
from billing.services import customer_usage as usage_service
from billing.services.customer_usage import customer_usage
from billing.store.catalog_versions import save_catalog
from billing.store.usage_events import insert_events

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
MARCH = datetime(2026, 3, 1, tzinfo=UTC)
METRICS = [
    {"code": "calls", "event_type": "call", "aggregation": "count"},
    {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
    {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
    {"code": "peak", "event_type": "store", "aggregation": "max", "field": "gb"},
    {"code": "gb", "event_type": "store", "aggregation": "sum", "field": "gb", "allow_negative": True},
]


def _plan(code: str, model: dict) -> dict:
    return {
        "code": code,
        "interval": "monthly",
        "charges": [{"metric": m["code"], **model} for m in METRICS],
    }


CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": METRICS,
        "plans": [
            _plan("p", {"model": "per_unit", "unit_price": "0.01"}),
            _plan(
                "q",
                {
                    "model": "graduated",
                    "tiers": [{"up_to": 10, "unit_price": "0"}, {"up_to": None, "unit_price": "0.5"}],
                },
            ),
        ],
        "customers": [
            {"id": "one", "email": "one@x.example", "contracts": [{"plan": "p", "starts_on": "2026-03-01"}]},
            {
                "id": "two",
                "email": "two@x.example",
                "contracts": [
                    {"plan": "p", "starts_on": "2026-03-01", "ends_on": "2026-03-09"},
                    {"plan": "q", "starts_on": "2026-03-10"},
                ],
            },
        ],
    }
)


def _events(rng: random.Random, customer: str, count: int) -> list[UsageEvent]:
    found = []
    for n in range(count):
        kind = rng.choice(["call", "login", "seat", "store"])
        at = MARCH + timedelta(days=rng.randrange(0, 19), hours=rng.choice([0, 12]))
        props: dict[str, object] = {}
        if kind == "login":
            props = {"user": rng.choice(["u1", "u2", "u3", "u4", "u5"])}
        elif kind == "seat":
            props = {"n": Decimal(rng.randrange(1, 30))}
        elif kind == "store":
            props = {"gb": Decimal(rng.choice(["0.5", "12.25", "-4", "3"]))}
        found.append(UsageEvent(f"{customer}-{n}", customer, kind, at, props))
    return found


def _stored(engine, seed: int):
    rng = random.Random(seed)
    events = {c: _events(rng, c, 120) for c in ("one", "two")}
    with engine.begin() as connection:
        stored = save_catalog(connection, CATALOG, "test", NOW)
        insert_events(connection, events["one"] + events["two"], set(), NOW)
    return stored, events


def _totals(found) -> dict[str, Decimal]:
    return {m.metric.code: m.quantity for m in found.metrics}


@pytest.mark.parametrize("seed", [1, 2])
def test_the_totals_are_the_running_invoices_quantities_and_the_periods_aggregates(engine, seed):
    stored, events = _stored(engine, seed)
    one = customer_usage(engine, stored, "one", NOW)
    lines = {line.metric: line.quantity for line in one.running_invoice.lines if line.kind == "usage"}
    assert _totals(one) == lines  # one contract: every total is its line's quantity
    assert _totals(one) == {c: u.quantity for c, u in measure(CATALOG.metrics, events["one"]).items()}

    two = customer_usage(engine, stored, "two", NOW)  # March split on the 10th: two segments
    assert _totals(two) == {c: u.quantity for c, u in measure(CATALOG.metrics, events["two"]).items()}
    by_metric: dict[str, list[Decimal]] = {}
    for line in two.running_invoice.lines:
        if line.kind == "usage":
            by_metric.setdefault(line.metric, []).append(line.quantity)
    assert all(len(q) == 2 for q in by_metric.values())
    assert _totals(two)["calls"] == sum(by_metric["calls"]) and _totals(two)["gb"] == sum(by_metric["gb"])
    assert _totals(two)["peak"] == max(by_metric["peak"])
    assert _totals(two)["seats"] in by_metric["seats"]  # the later segment's, when it has any
    for found in (one, two):  # count and sum days add up to the total, read on their own
        for metric in found.metrics:
            if metric.metric.aggregation in ("count", "sum"):
                assert sum(d.quantity for d in metric.days) == metric.quantity


def test_the_period_is_not_read_again_beside_the_running_invoice(engine, monkeypatch):
    """A second read of the whole period that saw another ingest (faked: it answers more usage
    than is stored) would make the totals disagree with the running invoice; there is none.
    The days are read in their own statement, each day no longer than a local day."""
    stored, _ = _stored(engine, 3)
    real, real_days = usage_service.meter_segments, usage_service.usage_by_day
    asked, days = [], []

    def meter_with_a_later_ingest(connection, catalog, segments, metrics=None):
        found = real(connection, catalog, segments, metrics)
        asked.extend(segments)
        for (_, start, end), usage in found.items():
            if end - start > timedelta(days=2):  # a read of more than a local day
                for code, metered in usage.items():
                    usage[code] = metered._replace(quantity=metered.quantity + 1000)
        return found

    def days_read(connection, catalog, customer_id, edges, fresh=None):
        days.extend(pairwise(edges))
        return real_days(connection, catalog, customer_id, edges, fresh)

    monkeypatch.setattr(usage_service, "meter_segments", meter_with_a_later_ingest)
    monkeypatch.setattr(usage_service, "usage_by_day", days_read)
    one = customer_usage(engine, stored, "one", NOW)
    lines = {line.metric: line.quantity for line in one.running_invoice.lines if line.kind == "usage"}
    assert _totals(one) == lines
    assert asked == []  # one contract: its segment's states give every total
    assert len(days) == 20 and all(end - start <= timedelta(days=1, hours=1) for start, end in days)


def test_segments_the_preview_did_not_read_are_read_for_the_whole_period(engine, monkeypatch):
    """Should the preview's states ever lack a segment of the period, the totals come from one
    read of the whole period instead of a KeyError (a 500)."""
    stored, events = _stored(engine, 4)
    real = usage_service._period_totals
    monkeypatch.setattr(
        usage_service,
        "_period_totals",
        lambda connection, catalog, schedule, period, states: real(connection, catalog, schedule, period, {}),
    )
    for customer in ("one", "two"):
        found = customer_usage(engine, stored, customer, NOW)
        assert _totals(found) == {
            c: u.quantity for c, u in measure(CATALOG.metrics, events[customer]).items()
        }
