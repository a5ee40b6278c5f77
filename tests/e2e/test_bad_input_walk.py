"""Every route of the OpenAPI document, fed nasty path parameters, query parameters and bodies:
each answer is a documented 4xx with the JSON error body (or a 200 for a harmless one), never
a 5xx. Walked from the document, so routes added later are fed the same."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import client_for

NASTY_SEGMENTS = ["%00", "%ED%A0%80", "%FF%FE", "x" * 10_000, "-1", "9" * 400, "a%20b", "%E2%80%AE"]
NASTY_QUERY_VALUES = ["%00", "%ED%A0%80", "-1", "0", "1e400", "9" * 400, "abc", "x" * 10_000]
NASTY_BODIES = [
    (b"{", "application/json"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
    (b'{"events": [], "mode": "merge", "x": 1e999999}', "application/json"),
    (b'{"events": [{"properties": {"n": 1' + b"0" * 5000 + b"}}]}", "application/json"),
    (b"\xff\xfe", "application/json"),
    (b'"\\u0000"', "application/json"),
    (b'{"events": "\\ud800"}', "application/json"),
    (b"null", "application/json"),
    (b"{}", "text/plain"),
    (b"<events/>", "application/xml"),
]


def _operations(client):
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _assert_answer(response, documented: set[str], what) -> None:
    assert response.status_code < 500, what
    if response.status_code >= 400:
        assert str(response.status_code) in documented, (what, response.status_code)
        error = response.json()["error"]
        assert error["code"] and error["message"], what


@pytest.fixture
def client(engine):
    return client_for(engine)


def test_nasty_path_parameters(client) -> None:
    for path, method, operation in _operations(client):
        if "{" not in path:
            continue
        for segment in NASTY_SEGMENTS:
            concrete = path.replace("{customer_id}", segment).replace("{number}", segment)
            kwargs = {"json": {"events": []}} if "requestBody" in operation else {}
            response = client.request(method, concrete, **kwargs)
            _assert_answer(response, set(operation["responses"]) | {"404"}, (method, path, segment[:12]))


def test_nasty_query_parameters(client) -> None:
    for path, method, operation in _operations(client):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        concrete = path.replace("{customer_id}", "bravo").replace("{number}", "INV-000001")
        for name in names:
            for value in NASTY_QUERY_VALUES:
                response = client.request(method, f"{concrete}?{name}={value}")
                _assert_answer(response, set(operation["responses"]), (method, path, name, value[:12]))


def test_nasty_bodies(client) -> None:
    for path, method, operation in _operations(client):
        if "requestBody" not in operation:
            continue
        concrete = path.replace("{customer_id}", "bravo").replace("{number}", "INV-000001")
        for body, media_type in NASTY_BODIES:
            response = client.request(method, concrete, content=body, headers={"Content-Type": media_type})
            _assert_answer(response, set(operation["responses"]), (method, path, body[:20], media_type))


def test_a_preview_of_another_media_type_is_415(client) -> None:
    for media_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = client.post(
            "/v1/customers/bravo/preview", content=b'{"events": []}', headers={"Content-Type": media_type}
        )
        assert response.status_code == 415, media_type
        assert response.json()["error"]["code"] == "unsupported_media_type"
    for media_type in ("application/json", "application/json; charset=utf-8", "application/merge+json"):
        response = client.post(
            "/v1/customers/bravo/preview", content=b'{"events": []}', headers={"Content-Type": media_type}
        )
        assert response.status_code == 200, media_type
    assert client.post("/v1/customers/bravo/preview", content=b'{"events": []}').status_code == 200


def test_a_nul_names_nothing_in_a_path_and_is_refused_in_a_query(client) -> None:
    for path, code in [
        ("/v1/customers/a%00b/invoices", "unknown_customer"),  # PostgreSQL cannot even compare it
        ("/v1/customers/a%00b/notifications", "unknown_customer"),
        ("/v1/invoices/INV%00", "unknown_invoice"),
    ]:
        response = client.get(path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, code), path
    response = client.get("/v1/customers/bravo/notifications?kind=a%00")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")
    assert "NUL" in response.json()["error"]["message"]
