"""Checking a real answer against the schema `/openapi.json` publishes for its route (JSON
Schema 2020-12 under OpenAPI 3.1)."""

from __future__ import annotations

from jsonschema import Draft202012Validator


def answer_validator(document: dict, path: str, method: str) -> Draft202012Validator:
    """The validator of the 200 answer of `method path` in the OpenAPI `document`."""
    answer = document["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    schema = {**answer, "components": document["components"]}
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(validator: Draft202012Validator, answer: dict) -> list[str]:
    """Each way `answer` breaks the schema, as `path: message`; empty when it fits."""
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(answer)]
