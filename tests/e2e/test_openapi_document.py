"""The OpenAPI document at /docs describes every field and every error answer (SPEC §8).

Walked generically, so that routes and models added later are held to the same rules: each
keyed route documents 401 and 429 (with Retry-After), each route with a body 413 and 422, each
error answer the `{"error": {"code", "message"}}` body, each route says what it does, and each
field of every schema the document holds has a description."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import client_for

ERROR_BODY = "#/components/schemas/ErrorBody"
# FastAPI's own validation shapes: replaced by ErrorBody, checked to be gone below
FASTAPI_OWN = {"HTTPValidationError", "ValidationError"}
UNKEYED = {"/healthz", "/console", "/console/open", "/openapi.json", "/docs"}


@pytest.fixture
def document(bare_api) -> dict:
    return bare_api.get("/openapi.json").json()


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_keyed_route_documents_401_and_429_with_retry_after(document) -> None:
    keyed = [(p, m, o) for p, m, o in _operations(document) if p.startswith("/v1/")]
    assert len(keyed) >= 9
    for path, method, operation in keyed:
        responses = operation["responses"]
        assert {"401", "429"} <= set(responses), (method, path)
        assert "Retry-After" in responses["429"].get("headers", {}), (method, path)


def test_every_route_with_a_body_documents_413_and_422(document) -> None:
    for path, method, operation in _operations(document):
        if "requestBody" in operation:
            assert {"413", "422"} <= set(operation["responses"]), (method, path)


def test_every_error_answer_is_the_error_body(document) -> None:
    for path, method, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": ERROR_BODY}, (method, path, status)
                assert response["description"], (method, path, status)
            if status in ("503", "429"):
                assert "Retry-After" in response.get("headers", {}), (method, path, status)


def test_every_route_says_what_it_does(document) -> None:
    for path, method, operation in _operations(document):
        assert operation.get("description") or path in UNKEYED, (method, path)


def test_every_parameter_is_described(document) -> None:
    missing = [
        f"{method} {path} {parameter['name']}"
        for path, method, operation in _operations(document)
        for parameter in operation.get("parameters", [])
        if not parameter.get("description") and parameter["in"] == "query"
    ]
    assert missing == []


def test_the_console_link_is_unkeyed_its_parameters_described_and_its_redirect_documented(document) -> None:
    operation = document["paths"]["/console/open"]["get"]
    assert "security" not in operation and "401" not in operation["responses"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert set(parameters) == {"customer", "expires", "sig"}
    assert all(p["in"] == "query" and p["description"] for p in parameters.values())
    assert {"303", "403"} <= set(operation["responses"])
    assert "Location" in operation["responses"]["303"]["headers"]
    assert set(UNKEYED) - {"/openapi.json", "/docs"} <= set(document["paths"])


def test_every_field_of_every_schema_is_described(document) -> None:
    schemas = document["components"]["schemas"]
    assert {"ErrorBody", "EventsAnswer", "NotificationHistory"} <= set(schemas)
    assert not FASTAPI_OWN & set(schemas)  # every 422 is documented as the error body
    missing = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        for field, definition in schema.get("properties", {}).items()
        if not definition.get("description")
    ]
    assert missing == []


def test_a_model_inside_a_request_body_is_described_too(engine) -> None:
    """Request bodies given as raw JSON schema (`openapi_extra`) are walked as well."""
    document = client_for(engine).get("/openapi.json").json()
    missing = []
    for path, method, operation in _operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            for where, schema in _object_schemas(media.get("schema", {}), f"{method} {path}"):
                missing += [
                    f"{where}.{f}" for f, d in schema["properties"].items() if not d.get("description")
                ]
    assert missing == []


def _object_schemas(schema: dict, where: str):
    if "properties" in schema:
        yield where, schema
        for field, definition in schema["properties"].items():
            yield from _object_schemas(definition, f"{where}.{field}")
    for key in ("items",):
        if isinstance(schema.get(key), dict):
            yield from _object_schemas(schema[key], where + "[]")
    for definition in schema.get("$defs", {}).values():
        yield from _object_schemas(definition, where)
