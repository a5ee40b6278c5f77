"""The shapes the API documents in its OpenAPI schema: requests, answers and the error body."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from billing.core.notification_kinds import NOTIFICATION_KINDS, NOTIFICATION_STATUSES

MAX_EVENTS = 1_000


class PreviewRequest(BaseModel):
    # a misspelt key ("event", "mods") would otherwise price another hypothesis than the one sent
    model_config = ConfigDict(extra="forbid")

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


class EventsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(
        max_length=MAX_EVENTS,
        description="usage events (SPEC §5): transaction_id, customer_id, event_type, timestamp "
        "with its offset, properties; numbers are read exactly from their JSON text",
    )


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event in structured JSON mode, as `POST /v1/events` reads it."""

    specversion: Literal["1.0"] = Field(description="the CloudEvents version: 1.0")
    id: str = Field(description="the transaction id: the same id and payload again is a duplicate")
    source: str = Field(description="who sent it (a URI-reference); not billed on")
    type: str = Field(description="the event type a metric of the catalog counts")
    subject: str | None = Field(default=None, description="the customer id (required to be billed)")
    time: str | None = Field(default=None, description="the event's time, RFC 3339 with its offset")
    data: dict[str, Any] | None = Field(default=None, description="the event's properties")
    datacontenttype: str | None = Field(default=None, description="application/json when set")


class EventRejection(BaseModel):
    index: int = Field(description="the event's position in the batch, from 0")
    reason: str = Field(description="a SPEC §5 quarantine reason, e.g. unknown_customer")
    message: str = Field(description="what is wrong with the event, and where")
    quarantine_id: int | None = Field(
        default=None,
        description="the held row that keeps it (`billing quarantine show ID`); the same bad event "
        "sent again while held names the same row",
    )


class EventsAnswer(BaseModel):
    received: int = Field(description="events in the request")
    accepted: int = Field(description="stored now (late ones included)")
    duplicates: int = Field(description="same transaction id and payload as one stored already")
    quarantined: int = Field(description="refused and kept with their reason; see rejections")
    late: int = Field(description="of the accepted, for a period already invoiced: an adjustment")
    rejections: list[EventRejection] = Field(description="every quarantined event, by index")


class DeliveryEntry(BaseModel):
    channel: Literal["email", "webhook"] = Field(description="how it is delivered")
    status: Literal["pending", "sending", "sent", "failed"] = Field(
        description="pending: waiting for a run; sending: claimed by one; sent; failed: tried again later"
    )
    attempts: int = Field(description="tries so far")
    last_error: str | None = Field(description="why the last try failed; null once sent")
    sent_at: str | None = Field(description="ISO 8601 with the customer's offset")
    next_attempt_at: str | None = Field(description="when a failed delivery is tried again")


class NotificationEntry(BaseModel):
    id: int = Field(description="pass it as `before` to read older notifications")
    key: str = Field(description="kind/customer/subject/period: unique, the deliveries' idempotency key")
    customer_id: str = Field(description="the customer it is for")
    kind: Literal[NOTIFICATION_KINDS] = Field(description="what it announces")  # type: ignore[valid-type]
    subject: str = Field(
        description='what it is about, e.g. "contract/2026-01-15", "alert/500.00", an invoice number'
    )
    period: str = Field(description="which occurrence, e.g. the day a trial ends")
    status: Literal[NOTIFICATION_STATUSES] = Field(  # type: ignore[valid-type]
        description="pending, sent or failed as its deliveries go; skipped: decided but not sent (see reason)"
    )
    due_on: str | None = Field(description="the customer's local day it was decided on (YYYY-MM-DD)")
    reason: str | None = Field(description="why it was skipped")
    recipient: str = Field(description="the email address it went to")
    created_at: str = Field(description="when it was recorded, ISO 8601 with the customer's offset")
    context: dict[str, Any] = Field(description="the kind's own fields, as the email and webhook carry them")
    deliveries: list[DeliveryEntry] = Field(description="one per channel; none for a skipped notification")


class NotificationHistory(BaseModel):
    customer_id: str = Field(description="the customer of the path")
    notifications: list[NotificationEntry] = Field(description="newest first")
    next_before: int | None = Field(description="`before` for the next (older) page; null on the last")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable and machine-readable, e.g. unknown_customer, rate_limited")
    message: str = Field(description="for a person: what was wrong, where, and with which value")
    problems: list[dict[str, Any]] | None = Field(
        default=None, description="per event: {index, reason, message} (a refused preview)"
    )


class ErrorBody(BaseModel):
    """Every error answer: `{"error": {"code", "message"}}`."""

    error: ErrorDetail = Field(description="what went wrong")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these error statuses, each with the error body."""
    described = {
        401: "no valid API key",
        403: "a missing, expired, forged or malformed console token (one answer for all)",
        404: "unknown customer or invoice",
        409: (
            "what is stored does not allow this: an invoice not in a state for the move (only a "
            "finalized invoice is paid or voided), or stored usage a metric cannot aggregate "
            "(`unmeterable_usage`: an event not written by ingest)"
        ),
        413: "request body over 1 MiB",
        415: "a request body of a media type the endpoint does not read, or compressed (Content-Encoding)",
        422: "a body or an event that cannot be priced; `problems` names each bad event",
        429: "the API key is over its rate limit; see Retry-After",
        503: "the database is busy or past its time bound; see Retry-After",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    if 401 in statuses and 429 not in statuses:  # every route behind an API key is rate limited
        statuses = tuple(sorted((*statuses, 429)))
    for status in statuses:
        response: dict[str, Any] = {"model": ErrorBody, "description": described[status]}
        if status in (429, 503):
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[status] = response
    return responses
