"""What an invoice document shows (SPEC §8, last paragraph): the context of its one template.

The HTML page and the PDF are rendered from this context by `billing.notify.invoice_pdf`. The
seller's and the customer's details come from the catalog version the invoice was rated with,
so a document never changes when the catalog does. Amounts are shown as billed, grouped by
thousands ("1,234.50"), never rounded here; quantities are exact. Periods keep their local
days (`first_day`, `last_day`), printed by the templates' `days` filter.

The reference printed on every page is the number and the first eight characters of the
rating fingerprint in two groups ("Ref. INV-000012 · 3f2a-91c0"): short enough to read out on
the phone, and enough to tell two renderings of different ratings apart.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.core.catalog import Customer, Seller
from billing.core.invoicing import Invoice
from billing.core.money import Currency, format_amount, plain
from billing.views.documents import invoice_document, price_text


def grouped(text: str) -> str:
    """A decimal string with its whole part grouped by thousands: "-1234567.50" -> "-1,234,567.50"."""
    sign = "-" if text.startswith("-") else ""
    whole, dot, fraction = text.removeprefix("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def _amount(amount: Decimal, currency: Currency) -> str:
    return grouped(format_amount(amount, currency))


def _quantity(quantity: Decimal) -> str:
    text = plain(quantity)
    return grouped(text) if "e" not in text.lower() else text


def _party(name: str, address: tuple[str, ...], email: str | None, tax_id: str | None) -> dict[str, Any]:
    return {"name": name, "address": list(address), "email": email, "tax_id": tax_id}


def reference(invoice: Invoice) -> str:
    fingerprint = invoice.fingerprint
    return f"Ref. {invoice.number or 'draft'} · {fingerprint[:4]}-{fingerprint[4:8]}"


def invoice_sheet(invoice: Invoice, customer: Customer | None, seller: Seller | None) -> dict[str, Any]:
    """The template context of one invoice or credit note; `customer` None when the catalog
    version no longer names it (the id is printed then)."""
    currency = invoice.currency
    document = invoice_document(invoice)
    credit_note = invoice.kind == "credit_note"
    lines = []
    for line, shown in zip(invoice.lines, document["lines"], strict=True):
        lines.append(
            {
                "description": line.description,
                "period": shown["period"],
                "quantity": _quantity(line.quantity),
                "amount": _amount(line.amount, currency),
                "tiers": [
                    {
                        "quantity": _quantity(tier.quantity),
                        "unit_price": price_text(tier.unit_price, currency),
                        "flat_fee": price_text(tier.flat_fee, currency) if tier.flat_fee else None,
                        "amount": _amount(tier.amount, currency),
                    }
                    for tier in line.tiers
                ],
            }
        )
    return {
        "title": "Credit note" if credit_note else "Invoice",
        "credit_note": credit_note,
        "corrects": invoice.corrects,
        "reason": invoice.reason,
        "draft": invoice.status == "draft",
        "status": invoice.status,
        "number": invoice.number,
        "reference": reference(invoice),
        "currency": currency.code,
        "period": document["period"],
        "issued_on": document["issued_on"],
        "due_on": document["due_on"],
        "seller": None
        if seller is None
        else _party(seller.name, seller.address, seller.email, seller.tax_id),
        "customer": {
            "id": invoice.customer_id,
            "name": customer.display_name if customer else invoice.customer_id,
            "email": customer.email if customer else None,
            "address": list(customer.address) if customer else [],
            "tax_id": customer.tax_id if customer else None,
        },
        "lines": lines,
        "subtotal": _amount(invoice.subtotal, currency),
        "taxes": [
            {"name": tax.name, "rate": f"{plain(tax.rate)} %", "amount": _amount(tax.amount, currency)}
            for tax in invoice.taxes
        ],
        "credits_applied": _amount(-invoice.credits_applied, currency) if invoice.credits_applied else None,
        "total": _amount(invoice.total, currency),
    }
