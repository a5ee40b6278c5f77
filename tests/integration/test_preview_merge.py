"""A preview that merges events into the stored usage equals one that prices the stored and the
added events together, for every aggregation, on SQLite and PostgreSQL: the stored part is
aggregated in the database, the added part in Python, and neither counts an event twice."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent, format_timestamp
from billing.services.preview import preview
from billing.store.catalog_versions import save_catalog
from billing.store.usage_events import insert_events

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)

CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "calls", "event_type": "call", "aggregation": "count"},
            {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
            {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
            {"code": "peak", "event_type": "store", "aggregation": "max", "field": "gb"},
            {"code": "gb", "event_type": "store", "aggregation": "sum", "field": "gb"},
        ],
        "plans": [
            {
                "code": "p",
                "interval": "monthly",
                "charges": [
                    {"metric": code, "model": "per_unit", "unit_price": price}
                    for code, price in [
                        ("calls", "0.01"),
                        ("users", "3"),
                        ("seats", "7"),
                        ("peak", "0.5"),
                        ("gb", "0.001"),
                    ]
                ],
            }
        ],
        "customers": [
            {"id": "c", "email": "c@x.example", "contracts": [{"plan": "p", "starts_on": "2026-03-01"}]}
        ],
    }
)


def _events(rng: random.Random, prefix: str, count: int) -> list[UsageEvent]:
    found = []
    for n in range(count):
        kind = rng.choice(["call", "login", "seat", "store"])
        at = T0 + timedelta(days=rng.randrange(0, 19), hours=rng.choice([0, 12]))  # ties on `latest`
        props: dict[str, object] = {}
        if kind == "login":
            props = {"user": rng.choice(["u1", "u2", "u3", "u4", Decimal(1), "1"])}
        elif kind == "seat":
            props = {"n": Decimal(rng.randrange(1, 30))}
        elif kind == "store":
            props = {"gb": Decimal(rng.choice(["0.5", "12.25", "100", "3"]))}
        found.append(UsageEvent(f"{prefix}{rng.choice('ab')}-{n}", "c", kind, at, props))
    return found


def _json(event: UsageEvent) -> dict:
    return {
        "transaction_id": event.transaction_id,
        "event_type": event.event_type,
        "timestamp": format_timestamp(event.timestamp),
        "properties": dict(event.properties),
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_merge_equals_pricing_stored_and_added_events_together(engine, seed):
    rng = random.Random(seed)
    stored_events = _events(rng, "s", 300)
    added = _events(rng, "x", 40)
    with engine.begin() as connection:
        stored = save_catalog(connection, CATALOG, "test", NOW)
        insert_events(connection, stored_events, set(), NOW)
    resent = rng.sample(stored_events, 5)  # already stored, same payload: not counted again
    merged = preview(engine, stored, "c", [_json(e) for e in added + resent], "merge", NOW)
    together = preview(engine, stored, "c", [_json(e) for e in stored_events + added], "replace", NOW)
    assert merged["after"]["lines"] == together["after"]["lines"]
    assert merged["after"]["fingerprint"] == together["after"]["fingerprint"]
    assert merged["before"]["lines"] != merged["after"]["lines"]
