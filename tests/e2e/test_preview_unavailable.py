"""A request the database cannot serve in time answers 503 with Retry-After, never 500: no
pooled connection free, or a statement past the bound (`BILLING_API_DATABASE_TIMEOUT_SECONDS`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from billing.store.database import create_engine
from tests.bulk import bulk_load_events
from tests.e2e.conftest import client_for

PATH = "/v1/customers/bravo/preview"


def _assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == code
    assert int(response.headers["Retry-After"]) > 0


def test_no_free_connection_is_503(engine):
    url = engine.url.render_as_string(hide_password=False)
    tiny = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    try:
        client = client_for(tiny)
        assert client.post(PATH, json={"events": []}).status_code == 200
        with tiny.connect():  # the pool's one connection, held busy
            _assert_unavailable(client.post(PATH, json={"events": []}), "busy")
        assert client.post(PATH, json={"events": []}).status_code == 200
    finally:
        tiny.dispose()


def test_a_statement_past_the_bound_is_503(engine):
    march = datetime(2026, 3, 2, tzinfo=UTC)
    rows = ((f"big-{n}", "bravo", "api_call", march + timedelta(seconds=n), "{}") for n in range(100_000))
    slow = client_for(engine, api_database_timeout_seconds=0.001)
    # Loaded behind the rollups' back (no ingest ran), so the preview meters the raw events:
    # fresh rollups would answer within any bound.
    bulk_load_events(engine, rows)
    _assert_unavailable(slow.post(PATH, json={"events": []}), "timeout")
    patient = client_for(engine, api_database_timeout_seconds=60)
    response = patient.post(PATH, json={"events": []})
    assert response.status_code == 200
    calls = next(line for line in response.json()["after"]["lines"] if line["metric"] == "api_calls")
    assert calls["quantity"] == "100000"
