"""Real preview and usage answers validate against the OpenAPI document the API publishes
(`/openapi.json`, JSON Schema 2020-12 under OpenAPI 3.1): every key described, no key
undescribed (`additionalProperties: false`), money and quantities as strings. And a projected
quantity is written at the line's own digits, not eighty."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.api import dependencies as deps
from billing.core.money import decimal_places
from tests.e2e.conftest import client_for
from tests.e2e.openapi_answers import answer_validator, schema_errors

PREVIEW = "/v1/customers/{customer_id}/preview"
USAGE = "/v1/customers/{customer_id}/usage"


@pytest.fixture
def api(engine, event_suite):
    client = client_for(engine)
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    events = [
        {"transaction_id": f"a-{n}", "customer_id": "bravo", "event_type": "api_call",
         "timestamp": "2026-03-03T15:00:00Z", "properties": {}}
        for n in range(7)
    ] + [
        {"transaction_id": "s-1", "customer_id": "bravo", "event_type": "storage",
         "timestamp": "2026-03-04T15:00:00Z", "properties": {"gb": "100", "region": "eu"}},
        {"transaction_id": "t-1", "customer_id": "charlie", "event_type": "llm",
         "timestamp": "2026-03-04T15:00:00Z", "properties": {"tokens": "1234.5"}},
        {"transaction_id": "c-1", "customer_id": "alpha", "event_type": "api_call",
         "timestamp": "2026-03-04T15:00:00Z", "properties": {}},
    ]  # fmt: skip
    assert client.post("/v1/events", json={"events": events}).json()["accepted"] == len(events)
    return client


STORAGE = {"event_type": "storage", "properties": {"gb": 80, "region": "eu"}}
REQUESTS = [
    ("bravo", {"events": [{"event_type": "api_call"}] * 3, "mode": "merge"}),
    ("bravo", {"events": [STORAGE], "mode": "replace"}),
    ("charlie", {"events": [{"event_type": "llm", "properties": {"tokens": 700}}], "mode": "merge"}),
    ("alpha", {"events": [], "mode": "merge"}),
]


@pytest.mark.parametrize(("customer", "body"), REQUESTS)
def test_a_preview_answer_validates_against_the_published_schema(api, customer, body):
    validator = answer_validator(api.get("/openapi.json").json(), PREVIEW, "post")
    answer = api.post(f"/v1/customers/{customer}/preview", json=body)
    assert answer.status_code == 200, answer.text
    assert schema_errors(validator, answer.json()) == []
    assert any(line["hint"] for line in answer.json()["usage_lines"])


def test_a_trial_preview_and_the_usage_answers_validate_too(api):
    document = api.get("/openapi.json").json()
    preview, usage = answer_validator(document, PREVIEW, "post"), answer_validator(document, USAGE, "get")
    for customer in ("alpha", "bravo", "charlie"):
        assert schema_errors(usage, api.get(f"/v1/customers/{customer}/usage").json()) == []
    api.app.dependency_overrides[deps.now] = lambda: datetime(2026, 2, 25, tzinfo=UTC)  # charlie's trial
    trial = api.post("/v1/customers/charlie/preview", json={"events": []}).json()
    assert trial["projected"] is None and all(line["hint"] is None for line in trial["usage_lines"])
    assert schema_errors(preview, trial) == []
    assert schema_errors(usage, api.get("/v1/customers/charlie/usage").json()) == []


def test_the_schema_refuses_what_the_answer_must_not_be(api):
    """The check has teeth: a number for money, a missing or an extra key is refused."""
    validator = answer_validator(api.get("/openapi.json").json(), PREVIEW, "post")
    answer = api.post("/v1/customers/bravo/preview", json={"events": []}).json()
    assert schema_errors(validator, {**answer, "cost": 0.0})
    assert schema_errors(validator, {**answer, "surprise": 1})
    line = {**answer["usage_lines"][0]}
    del line["hint"]
    assert schema_errors(validator, {**answer, "usage_lines": [line]})


def test_projected_quantities_are_written_at_the_lines_own_digits(api):
    answer = api.post(
        "/v1/customers/charlie/preview",
        json={"events": [{"event_type": "llm", "properties": {"tokens": "0.25"}}], "mode": "merge"},
    ).json()
    (tokens,) = [u for u in answer["usage_lines"] if u["metric"] == "tokens"]
    quantity = answer["after"]["lines"][tokens["line"]]["quantity"]
    assert quantity == "1234.75"
    projected = tokens["projected"]["quantity"]
    # 1234.75 x 31 / 19 13/24 days (charlie is in Berlin: 20 March 13:00) = 1958.7505..., up at 2 digits
    assert projected == "1958.76"
    bravo = api.post("/v1/customers/bravo/preview", json={"events": []}).json()
    for line in bravo["usage_lines"]:
        shown, metered = line["projected"]["quantity"], bravo["after"]["lines"][line["line"]]["quantity"]
        assert decimal_places(Decimal(shown)) <= decimal_places(Decimal(metered))
        assert Decimal(shown) >= Decimal(metered)
