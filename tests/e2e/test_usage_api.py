"""`GET /v1/customers/{id}/usage` through FastAPI's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from billing.api import dependencies as deps
from tests.e2e.conftest import client_for


def call(n: int, day: str, customer: str = "bravo") -> dict:
    return {
        "transaction_id": f"u-{customer}-{n}",
        "customer_id": customer,
        "event_type": "api_call",
        "timestamp": f"{day}T15:00:00Z",
        "properties": {},
    }


def storage(n: int, day: str, gb: str) -> dict:
    return {
        "transaction_id": f"s-{n}",
        "customer_id": "bravo",
        "event_type": "storage",
        "timestamp": f"{day}T15:00:00Z",
        "properties": {"gb": gb, "region": "eu"},
    }


@pytest.fixture
def api(engine, event_suite):
    client = client_for(engine)
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    return client


def _metric(document: dict, code: str) -> dict:
    return next(m for m in document["metrics"] if m["code"] == code)


def test_usage_so_far_per_local_day_after_ingesting_events(api):
    events = [call(n, "2026-03-02") for n in range(3)] + [call(10 + n, "2026-03-05") for n in range(4)]
    events += [
        storage(1, "2026-03-02", "120.5"),
        storage(2, "2026-03-02", "30"),
        storage(3, "2026-03-05", "80"),
    ]
    answer = api.post("/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == len(events)

    usage = api.get("/v1/customers/bravo/usage")
    assert usage.status_code == 200, usage.text
    document = usage.json()
    # bravo is in New York: March is 1 Mar 05:00Z .. 1 Apr 04:00Z (DST on 8 March)
    assert document["period"] == {
        "start": "2026-03-01T00:00:00-05:00",
        "end": "2026-04-01T00:00:00-04:00",
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }
    calls = _metric(document, "api_calls")
    assert calls["name"] == "API calls" and calls["aggregation"] == "count"
    assert calls["quantity"] == "7"
    days = {d["day"]: d["quantity"] for d in calls["days"]}
    assert list(days) == [f"2026-03-{d:02d}" for d in range(1, 21)]  # through today, 20 March
    assert days["2026-03-02"] == "3" and days["2026-03-05"] == "4" and days["2026-03-03"] == "0"
    gb = _metric(document, "storage_gb")
    assert gb["quantity"] == "120.5"  # the period's max
    assert {d["day"]: d["quantity"] for d in gb["days"]}["2026-03-05"] == "80"  # that day's own max

    # growth: 50.00 flat in arrears + api_calls 5 x 1.00 + 2 x 0.50 + storage 120.5 x 0.05
    assert document["spend"] == "62.03"
    invoice = document["running_invoice"]
    assert invoice["subtotal"] == "62.03" and invoice["total"] == "62.03"
    assert document["currency"] == "USD" and document["credits"] == [] and document["credits_left"] == "0.00"
    assert document["spend_alerts"] == []
    # 19.5 of March's 31 local days gone by (noon in New York is 16:00Z: 20 Mar 12:00Z is 08:00 EDT)
    assert document["projected_spend"] is not None
    assert document["projection_beyond_limit"] is False


def test_the_running_invoice_is_a_merge_previews_before_exactly(api):
    api.post("/v1/events", json={"events": [call(n, "2026-03-03") for n in range(12)]})
    usage = api.get("/v1/customers/bravo/usage").json()
    preview = api.post("/v1/customers/bravo/preview", json={"events": [], "mode": "merge"}).json()
    assert usage["running_invoice"] == preview["before"]
    assert usage["period"] == preview["period"]


def test_credits_left_and_a_customer_in_a_trial(api):
    # charlie's trial ends 1 March; March is billed, with 3.00 of credits granted on 1 March
    document = api.get("/v1/customers/charlie/usage").json()
    assert document["period"]["first_day"] == "2026-03-01"
    assert document["credits_left"] == "3.00"
    (credit,) = document["credits"]
    assert credit["granted"] == "3.00" and credit["remaining"] == "3.00" and credit["usable"] is True


def test_a_customer_before_its_contract_has_no_period(engine, event_suite):
    from datetime import UTC, datetime

    client = client_for(engine)
    client.app.dependency_overrides[deps.now] = lambda: datetime(2026, 2, 1, tzinfo=UTC)
    document = client.get("/v1/customers/alpha/usage").json()
    assert document["period"] is None
    assert document["metrics"] == [] and document["running_invoice"] is None
    assert document["spend"] is None and document["projected_spend"] is None


def test_unknown_customer_and_missing_key(api):
    unknown = api.get("/v1/customers/nobody/usage")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_customer"
    assert "nobody" in unknown.json()["error"]["message"]
    weird = api.get("/v1/customers/%00%F0%9F%92%A9/usage")
    assert weird.status_code == 404
    bare = api.get("/v1/customers/bravo/usage", headers={"Authorization": ""})
    assert bare.status_code == 401 and bare.json()["error"]["code"]


def test_the_schema_documents_the_usage_answer_and_its_errors(api):
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/v1/customers/{customer_id}/usage"]["get"]
    assert {"200", "401", "404", "429", "503"} <= set(operation["responses"])
    answer = schema["components"]["schemas"]["UsageAnswer"]
    assert all(
        "description" in answer["properties"][f] for f in ("period", "running_invoice", "projected_spend")
    )
