"""The usage answer's per-day values are each local day's events metered alone by the core's
definition (`billing.core.metering.measure`), and count/sum days add up to the period's quantity."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.api import dependencies as deps
from billing.core.events import dumps, loads, parse_event
from billing.core.metering import measure
from billing.sources.catalog_file import load_catalog
from tests.conftest import FIXTURES
from tests.e2e.conftest import client_for

NEW_YORK = ZoneInfo("America/New_York")
PERIOD_START = datetime(2026, 3, 1, 5, tzinfo=UTC)
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
_IDS = itertools.count()

_MINUTES = st.integers(0, int((NOW - PERIOD_START).total_seconds() // 60) - 1)
_EVENT = st.one_of(
    st.builds(lambda m: ("api_call", m, {}), _MINUTES),
    st.builds(
        lambda m, gb, region: ("storage", m, {"gb": gb, "region": region}),
        _MINUTES,
        st.decimals("0", "1000", places=2),
        st.sampled_from(["eu", "us"]),
    ),
    st.builds(lambda m, tokens: ("llm", m, {"tokens": tokens}), _MINUTES, st.integers(0, 10**6)),
)


@pytest.fixture
def api(engine, event_suite):
    client = client_for(engine)
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    return client


@given(batch=st.lists(_EVENT, min_size=1, max_size=25))
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_days_are_each_days_events_alone(api, batch):
    events = [
        {
            "transaction_id": f"p-{next(_IDS)}",
            "customer_id": "bravo",
            "event_type": kind,
            "timestamp": (PERIOD_START + timedelta(minutes=minute)).isoformat(),
            "properties": properties,
        }
        for kind, minute, properties in batch
    ]
    answer = api.post(
        "/v1/events", content=dumps({"events": events}), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 200 and answer.json()["quarantined"] == 0, answer.text
    posted = api.posted = [*getattr(api, "posted", []), *(parse_event(loads(dumps(e))) for e in events)]

    document = api.get("/v1/customers/bravo/usage").json()
    catalog = load_catalog(FIXTURES / "three_customers.yaml")
    for metric in catalog.metrics:
        shown = next(m for m in document["metrics"] if m["code"] == metric.code)
        for day in shown["days"]:
            alone = [e for e in posted if e.timestamp.astimezone(NEW_YORK).date().isoformat() == day["day"]]
            assert Decimal(day["quantity"]) == measure([metric], alone)[metric.code].quantity, (metric, day)
        assert Decimal(shown["quantity"]) == measure([metric], posted)[metric.code].quantity
        if metric.aggregation in ("count", "sum"):
            assert sum(Decimal(d["quantity"]) for d in shown["days"]) == Decimal(shown["quantity"])
