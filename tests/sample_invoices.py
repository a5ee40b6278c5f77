"""Hand-built invoices for document tests: tiers, taxes, a credit, a credit note, many lines."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from billing.core.catalog import Customer, Seller
from billing.core.invoicing import Invoice
from billing.core.line_keys import LineKey
from billing.core.money import Currency
from billing.core.pricing.base import TierAmount
from billing.core.rating import InvoiceLine
from billing.core.taxes import TaxLine

USD = Currency.of("USD")
OCT_1 = datetime(2026, 10, 1, 4, tzinfo=UTC)  # local midnight in New York
NOV_1 = datetime(2026, 11, 1, 4, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, 5, tzinfo=UTC)

SELLER = Seller(
    name="Example Cloud Ltd",
    address=("1 Main St", "Springfield"),
    email="billing@example.com",
    tax_id="GB123456789",
)
CUSTOMER = Customer(
    id="acme",
    name="Acme Inc",
    email="billing@acme.example",
    timezone="America/New_York",
    address=(
        "Accounts Payable, Building 7, Floor 3",
        "2 Side Street, Suite 1400 (use the loading dock entrance after 6 pm)",
        "Boston MA 02110",
    ),
    tax_id="US-99",
)


def _line(charge: str, description: str, quantity: str, amount: str, **fields: object) -> InvoiceLine:
    values: dict[str, object] = {"start": OCT_1, "end": NOV_1, "metric": "api_calls", **fields}
    return InvoiceLine(
        key=LineKey(date(2026, 1, 15), date(2026, 10, 1), charge),
        kind="usage",
        description=description,
        quantity=Decimal(quantity),
        amount=Decimal(amount),
        **values,  # type: ignore[arg-type]
    )


def invoice(extra_lines: int = 0) -> Invoice:
    """INV-000012: 127.05 + VAT 20 % 25.41 - 50.00 credits = 102.46 USD, for October 2026."""
    tiers = (
        TierAmount(Decimal(1000), Decimal("0.01"), Decimal(0), Decimal("10.00")),
        TierAmount(Decimal(9000), Decimal("0.008"), Decimal(0), Decimal("72.00")),
        TierAmount(Decimal(2000), Decimal("0.004"), Decimal("5.00"), Decimal("13.00")),
    )
    lines = [
        _line("fee", "Pro subscription", "1", "30.00", start=NOV_1, end=DEC_1, metric=None),
        _line("calls", "API calls", "12000", "95.00", tiers=tiers),
        _line("storage", "EU storage (GB, peak)", "20.5", "2.05"),
    ]
    lines += [_line(f"seats-{i}", f"Seats, project {i}", "1", "1.00") for i in range(extra_lines)]
    subtotal = sum((line.amount for line in lines), Decimal("0.00"))
    tax = (subtotal * Decimal("0.2")).quantize(Decimal("0.01"))
    return Invoice(
        customer_id="acme",
        status="finalized",
        currency=USD,
        timezone="America/New_York",
        period_start=OCT_1,
        period_end=NOV_1,
        lines=tuple(lines),
        subtotal=subtotal,
        credits_applied=Decimal("50.00"),
        total=subtotal + tax - Decimal("50.00"),
        fingerprint="3f2a91c0deadbeef0123456789abcdef",
        issued_at=NOV_1,
        due_on=date(2026, 12, 1),
        number="INV-000012",
        taxes=(TaxLine("VAT", Decimal("20"), tax),),
    )


def credit_note() -> Invoice:
    """CN-000001 reversing INV-000012's lines and tax: -152.46 USD."""
    original = invoice()
    lines = tuple(line._replace(quantity=-line.quantity, amount=-line.amount) for line in original.lines)
    tax = TaxLine("VAT", Decimal("20"), -original.taxes[0].amount)
    return replace(
        original,
        number="CN-000001",
        kind="credit_note",
        corrects="INV-000012",
        lines=lines,
        subtotal=-original.subtotal,
        taxes=(tax,),
        credits_applied=Decimal("0.00"),
        total=-original.subtotal + tax.amount,
        due_on=None,
    )
