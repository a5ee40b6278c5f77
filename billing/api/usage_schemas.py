"""The usage answer's shape in the OpenAPI schema (`GET /v1/customers/{id}/usage`)."""

from __future__ import annotations

from pydantic import Field

from billing.api.invoice_schemas import InvoiceShape, PeriodShape, Shape


class DayQuantity(Shape):
    day: str = Field(description="a local day of the customer, YYYY-MM-DD")
    quantity: str = Field(description="the metric over that day's events alone, a decimal string")


class MetricSoFar(Shape):
    code: str = Field(description="the catalog metric's code")
    name: str = Field(description="its name (the code, readable, when the catalog gives none)")
    aggregation: str = Field(description="count, sum, max, latest or unique_count")
    quantity: str = Field(description="the period so far, aggregated over the whole period")
    days: list[DayQuantity] = Field(
        description="every local day from the period's first through today, a day without usage at 0; "
        "count and sum days add up to `quantity`, max/latest/unique_count are each day's own"
    )


class CreditShape(Shape):
    key: str = Field(description="the grant: contract start / credit / index")
    granted: str = Field(description="the grant's amount")
    remaining: str = Field(description="what finalized invoices have not burned of it")
    granted_on: str = Field(description="the local day the grant becomes usable, YYYY-MM-DD")
    expires_on: str | None = Field(description="its last usable local day, YYYY-MM-DD; null: no expiry")
    usable: bool = Field(description="valid on the customer's today")


class UsageAnswer(Shape):
    customer_id: str = Field(description="the customer, as the catalog names it")
    currency: str = Field(description="the catalog's currency, ISO 4217")
    as_of: str = Field(description="the instant the answer is computed at, with the customer's offset")
    period: PeriodShape | None = Field(
        description="the billed period in progress; null before the first contract, in a trial or "
        "after the contracts end (then `metrics` is empty and the invoice and spend fields are null)"
    )
    metrics: list[MetricSoFar] = Field(
        description="every catalog metric, so far in the period (empty without a period)"
    )
    running_invoice: InvoiceShape | None = Field(
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
    credits: list[CreditShape] = Field(
        description="each prepaid credit grant of the contract and what is left of it"
    )
    spend_alerts: list[str] = Field(description="the customer's spend alert thresholds, ascending")
