"""The usage answer's shape in the OpenAPI schema (`GET /v1/customers/{id}/usage`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PeriodShape(BaseModel):
    start: str = Field(description="the period's first instant, ISO 8601 with the customer's offset")
    end: str = Field(description="its end (exclusive), ISO 8601 with the customer's offset")
    first_day: str = Field(description="its first local day, YYYY-MM-DD")
    last_day: str = Field(description="its last local day (inclusive), YYYY-MM-DD")


class DayQuantity(BaseModel):
    day: str = Field(description="a local day of the customer, YYYY-MM-DD")
    quantity: str = Field(description="the metric over that day's events alone, a decimal string")


class MetricSoFar(BaseModel):
    code: str = Field(description="the catalog metric's code")
    name: str = Field(description="its name (the code, readable, when the catalog gives none)")
    aggregation: str = Field(description="count, sum, max, latest or unique_count")
    quantity: str = Field(description="the period so far, aggregated over the whole period")
    days: list[DayQuantity] = Field(
        description="every local day from the period's first through today, a day without usage at 0; "
        "count and sum days add up to `quantity`, max/latest/unique_count are each day's own"
    )


class CreditShape(BaseModel):
    key: str = Field(description="the grant: contract start / credit / index")
    granted: str = Field(description="the grant's amount")
    remaining: str = Field(description="what finalized invoices have not burned of it")
    granted_on: str
    expires_on: str | None
    usable: bool = Field(description="valid on the customer's today")


class UsageAnswer(BaseModel):
    customer_id: str
    currency: str
    as_of: str = Field(description="the instant the answer is computed at, with the customer's offset")
    period: PeriodShape | None = Field(
        description="the billed period in progress; null before the first contract, in a trial or "
        "after the contracts end (then `metrics` is empty and the invoice and spend fields are null)"
    )
    metrics: list[MetricSoFar]
    running_invoice: dict[str, Any] | None = Field(
        description="the invoice the period would close with now: exactly a merge preview's `before`"
    )
    spend: str | None = Field(
        description="the period's usage and flat charges so far, before taxes and credits "
        "(what spend alerts compare)"
    )
    projected_spend: str | None = Field(
        description="`spend` at the period's end if usage goes on at its rate so far (count and sum "
        "scaled by the elapsed share, the others held); null before the period started"
    )
    projection_beyond_limit: bool = Field(description="the projection prices past what an invoice can bill")
    credits_left: str = Field(description="prepaid credits usable today, not burned by finalized invoices")
    credits: list[CreditShape]
    spend_alerts: list[str] = Field(description="the customer's spend alert thresholds, ascending")
