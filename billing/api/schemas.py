"""The shapes the API documents in its OpenAPI schema: the preview request and the error body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_EVENTS = 1_000


class PreviewRequest(BaseModel):
    events: list[dict[str, Any]] = Field(
        default_factory=list,
        max_length=MAX_EVENTS,
        description="usage events as `POST /v1/events` takes them; transaction_id, customer_id "
        "and timestamp may be left out (a preview id, the path's customer, now)",
    )
    mode: Literal["merge", "replace"] = Field(
        default="merge",
        description="merge: add the events to the current period's stored usage; replace: price them alone",
    )


class ErrorDetail(BaseModel):
    code: str
    message: str
    problems: list[dict[str, Any]] | None = Field(
        default=None, description="per event: {index, reason, message} (a refused preview)"
    )


class ErrorBody(BaseModel):
    error: ErrorDetail


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error body."""
    described = {
        401: "no valid API key",
        404: "unknown customer or invoice",
        409: "the invoice is not in a state that allows this (only a finalized invoice is paid or voided)",
        413: "request body over 1 MiB",
        422: "a body or an event that cannot be priced; `problems` names each bad event",
        503: "the database is busy or past its time bound; see Retry-After",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {"model": ErrorBody, "description": described[status]}
        if status == 503:
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[status] = response
    return responses
