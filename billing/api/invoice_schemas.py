"""The invoice's shape in the OpenAPI schema (SPEC §8), as `billing.views.documents` writes it.

Documentation only: routes answer the view's dictionaries as they are (money as decimal strings
at the currency's minor units, quantities and prices as plain decimal strings); a test
validates real answers against these shapes, so the schema cannot drift from the answers.
`extra="forbid"` publishes `additionalProperties: false`: a key added to an answer and not
described here fails that test.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PeriodShape(Shape):
    start: str = Field(description="the period's first instant, ISO 8601 with the customer's offset")
    end: str = Field(description="its end (exclusive), ISO 8601 with the customer's offset")
    first_day: str = Field(description="its first local day, YYYY-MM-DD")
    last_day: str = Field(description="its last local day (inclusive), YYYY-MM-DD")


class LineTierShape(Shape):
    quantity: str = Field(description="the units of the line priced in this tier, a decimal string")
    unit_price: str = Field(description="the tier's unit price, as the catalog writes it")
    flat_fee: str = Field(description="the tier's flat fee (at least the currency's digits)")
    amount: str = Field(description="what this tier adds, unrounded parts summed into the line's amount")


class LineShape(Shape):
    description: str = Field(description="what the line bills, for a person")
    metric: str | None = Field(description="the metric a usage line prices; null for a fee or true-up")
    quantity: str = Field(description="the metered quantity (1 for a flat fee), exact, a decimal string")
    amount: str = Field(description="the line's amount, rounded once to the currency's minor units")
    period: PeriodShape | None = Field(
        description="the line's own period (an in-advance fee bills the next one); null in a quote"
    )
    tiers: list[LineTierShape] = Field(description="the tier breakdown; empty for an untiered charge")


class TaxShape(Shape):
    name: str = Field(description="the tax's name, e.g. VAT")
    rate: str = Field(description="its rate as a plain percentage: 20, 2.5")
    amount: str = Field(description="the tax on the subtotal, at minor units")


class InvoiceShape(Shape):
    """An invoice without its number: a preview's `before` and `after`, the running invoice."""

    customer_id: str = Field(description="the customer billed")
    status: Literal["draft", "finalized", "paid", "void"] = Field(
        description="draft for a preview or a running invoice"
    )
    currency: str = Field(description="ISO 4217 code")
    period: PeriodShape = Field(description="the billed period whose close issues the invoice")
    lines: list[LineShape] = Field(description="usage lines, fees, the minimum's true-up")
    subtotal: str = Field(description="the sum of the rounded lines")
    taxes: list[TaxShape] = Field(description="each tax on the subtotal")
    credits_applied: str = Field(description="prepaid credits the invoice burns")
    total: str = Field(description="subtotal + taxes - credits_applied, never below 0")
    fingerprint: str = Field(description="a hash of the rating inputs: equal inputs, equal fingerprint")
    issued_at: str | None = Field(description="the instant it is (or would be) issued, with the offset")
    issued_on: str | None = Field(description="its local issue date, YYYY-MM-DD")
    due_on: str | None = Field(description="its local due date, YYYY-MM-DD; null for a draft")
    kind: Literal["invoice", "credit_note"] = Field(description="an invoice, or a credit note reversing one")
    corrects: str | None = Field(description="the invoice a credit note credits; null for an invoice")
    reason: Literal["void", "backfill", "remainder"] | None = Field(
        description="why a credit note was issued; null for an invoice"
    )
    paid_at: str | None = Field(description="when it was marked paid")
    voided_at: str | None = Field(description="when it was voided")


class IssuedInvoiceShape(InvoiceShape):
    """An issued invoice or credit note (`GET /v1/invoices/{number}`): the shape with its number."""

    number: str = Field(description="its gap-free number: INV-… for an invoice, CN-… for a credit note")


class InvoiceListAnswer(Shape):
    """`GET /v1/customers/{id}/invoices`."""

    customer_id: str = Field(description="the customer asked about")
    invoices: list[IssuedInvoiceShape] = Field(
        description="its issued invoices and credit notes, newest first"
    )


class StateChangeAnswer(Shape):
    """`POST /v1/invoices/{number}/pay` and `/void`."""

    invoice: IssuedInvoiceShape = Field(description="the invoice after the change")
    changed: bool = Field(description="false when it was paid (or void) already: nothing changed")
    credit_note: IssuedInvoiceShape | None = Field(
        default=None,
        description="a void only: the credit note reversing the invoice (null if none was issued)",
    )
    warning: str | None = Field(
        default=None, description="a void only, when the credit note's email could not be queued: why"
    )
