"""Schemathesis over the app's own OpenAPI schema: generated requests, valid ones and invalid
ones, with a valid API key so they reach the handlers. No answer may be a 5xx, and each status,
content type and body must be one the schema documents. On SQLite and PostgreSQL.

The operations are driven one by one with hypothesis (schemathesis' lazy pytest fixture does not
run under this pytest): a bounded number of examples each, to keep the suite quick."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import client_for

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 30


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("customer", [None, "bravo"], ids=["any-customer", "known-customer"])
def test_no_request_gets_a_5xx_or_an_undocumented_answer(engine, mode, customer):
    client = client_for(engine)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    auth = {"Authorization": client.headers["Authorization"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/customers/{customer_id}/preview", "/v1/events", "/healthz"}
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (operation.body or _constrained(operation)):
            continue  # nothing to get wrong (`GET /healthz`; any text is a valid invoice number)

        names = {p.name for p in operation.path_parameters}
        fixed = {"customer_id": customer} if customer and "customer_id" in names else None
        if customer and not fixed:
            continue  # the generated-customer case covers it

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def call(case):
            case.call_and_validate(headers=auth, checks=CHECKS)

        call()


def _constrained(operation) -> bool:
    """Whether a parameter can be invalid: any but plain text (a path segment, a header)."""
    return any(not _any_text(p.definition.get("schema", {})) for p in operation.iter_parameters())


def _any_text(schema: dict) -> bool:
    """`{"type": "string"}` or `anyOf` string and null, with no other constraint."""
    kinds = schema.get("anyOf", [schema])
    plain = all(set(k) - {"title"} == {"type"} and k["type"] in ("string", "null") for k in kinds)
    return plain and not set(schema) - {"type", "anyOf", "title"}
