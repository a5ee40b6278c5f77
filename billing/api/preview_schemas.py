"""The preview answer's shape in the OpenAPI schema (`POST /v1/customers/{id}/preview`, SPEC §8).

As `billing.views.preview_document` writes it; documentation only, validated against real
answers by the tests (see `billing.api.invoice_schemas`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from billing.api.invoice_schemas import InvoiceShape, PeriodShape, Shape


class HintShape(Shape):
    """Where the line's quantity sits in its charge's price bands, for the next unit."""

    tier: int = Field(
        description="the band, from 0; half-open bands [from, up_to): at exactly a tier's up_to the "
        "tier is full and this names the next one; a package's band 0 is its free units, then one per "
        "package; a negative quantity has band 0's hint"
    )
    from_: str = Field(alias="from", description="the band's lower bound (inclusive)")
    up_to: str | None = Field(description="its upper bound (exclusive); null in the last band")
    unit_price: str = Field(
        description="the price of a unit in this band (per `per_units` units for a package; rate/100 "
        "per unit of the summed amount for a percentage)"
    )
    per_units: str = Field(description="how many units `unit_price` is for: 1, or a package's size")
    units_to_next_tier: str | None = Field(
        description="units to add to reach the next band (counted from the quantity itself, "
        "negative ones too); null in the last band"
    )
    next_unit_price: str | None = Field(description="the next band's unit price; null in the last band")
    free_units_left: str | None = Field(
        description="what is left of a free allowance (a first tier priced 0, a package's free_units); "
        "null without one"
    )


class ProjectedLineShape(Shape):
    quantity: str = Field(
        description="the line's quantity at the period's end at its rate so far, rounded up to the "
        "digits the line's quantity has (a forecast of billable units; priced exactly)"
    )
    amount: str = Field(description="the projected line's amount, at the currency's minor units")


class UsageLineShape(Shape):
    line: int = Field(description="the line's index in `after.lines`")
    metric: str | None = Field(description="the metric the line prices")
    description: str = Field(description="the line's description, as in `after.lines`")
    hint: HintShape | None = Field(
        description="the line's tier position; null for a line of an earlier period or outside one"
    )
    projected: ProjectedLineShape | None = Field(
        description="the line at the period's end if usage goes on at its rate so far; null for a "
        "line of an earlier period, at the period's very start or past what an invoice can bill"
    )


class PreviewAnswer(Shape):
    customer_id: str = Field(description="the customer of the path")
    mode: Literal["merge", "replace"] = Field(description="the request's mode")
    currency: str = Field(description="the catalog's currency, ISO 4217")
    period: PeriodShape = Field(
        description="the period the invoices close: the current one (or, in a trial or before the "
        "first period, the one the invoices are about)"
    )
    before: InvoiceShape = Field(description="the invoice closing the period on the stored usage alone")
    after: InvoiceShape = Field(
        description="the invoice with the request's events merged in (merge) or alone (replace)"
    )
    usage_lines: list[UsageLineShape] = Field(description="one per usage line of `after`, in its order")
    projected: str | None = Field(
        description="the period's projected spend (usage and flat charges, before taxes and credits); "
        "null before the period started, in a trial or past what an invoice can bill"
    )
    projected_beyond_limit: bool = Field(
        description="the projection prices past what an invoice line can bill (it has no lines then)"
    )
    cost: str = Field(description="after.total - before.total, at the currency's minor units")
    fingerprint: str = Field(description="the after invoice's fingerprint of the rating inputs")
    catalog_version: str = Field(description="the content hash of the catalog version priced with")
