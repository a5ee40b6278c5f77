"""Past its rate limit an API key gets 429 with Retry-After and the JSON error body (SPEC §8)."""

from __future__ import annotations

from tests.e2e.conftest import client_for


def test_past_the_burst_a_key_gets_429_with_retry_after(engine) -> None:
    client = client_for(engine, api_rate_limit=0.01, api_rate_burst=2)
    assert [client.get("/v1/customers/alpha/invoices").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/v1/customers/alpha/invoices")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "100"  # one token every 100 s
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "over its rate limit of 0.01 requests a second (burst 2)" in error["message"]
    assert client.post("/v1/events", json={"events": []}).status_code == 429  # every keyed route


def test_an_unknown_key_is_refused_before_it_is_counted(engine) -> None:
    client = client_for(engine, api_rate_limit=0.01, api_rate_burst=1)
    good = client.headers["Authorization"]
    client.headers["Authorization"] = "Bearer nope"
    assert {client.get("/v1/customers/alpha/invoices").status_code for _ in range(5)} == {401}
    client.headers["Authorization"] = good
    assert client.get("/v1/customers/alpha/invoices").status_code == 200


def test_the_limit_is_documented_on_keyed_routes(engine) -> None:
    schema = client_for(engine).get("/openapi.json").json()
    for path in ("/v1/events", "/v1/customers/{customer_id}/preview", "/v1/invoices/{number}"):
        for operation in schema["paths"][path].values():
            assert "Retry-After" in operation["responses"]["429"]["headers"], path
