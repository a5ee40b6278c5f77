"""A million events of 0.1 sum to exactly 100000.0 on both databases (a float sum does not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing.core.catalog import parse_catalog
from billing.store.metering_sql import meter_segments
from tests.bulk import bulk_load_events

T0 = datetime(2026, 3, 1, tzinfo=UTC)
N = 1_000_000

CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [{"code": "gb", "event_type": "store", "aggregation": "sum", "field": "gb"}],
        "plans": [{"code": "p", "interval": "monthly", "charges": [{"model": "flat", "amount": "1"}]}],
    }
)


def test_a_million_tenths_sum_exactly(engine):
    assert sum([0.1] * N) != 100000.0  # what a float aggregate would report
    rows = ((f"t{n}", "acme", "store", T0 + timedelta(microseconds=n), '{"gb":0.1}') for n in range(N))
    bulk_load_events(engine, rows)
    key = ("acme", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        usage = meter_segments(connection, CATALOG, [key])[key]["gb"]
    assert usage.quantity == Decimal("100000.0")
