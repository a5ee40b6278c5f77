"""The JSON shapes of lines, invoices and quotes (SPEC §8), shared by the API and the CLI.

Money is a decimal string with exactly the currency's minor-unit digits, formatted as it was
billed (an amount not at minor units is refused, never rounded here: lines and their tiers are
rounded once, in `billing.core.rating`); quantities and unit prices are plain decimal strings;
instants are ISO 8601 with their offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.core.invoicing import Invoice
from billing.core.money import Currency, at_minor_units, format_amount, plain
from billing.core.rating import InvoiceLine, Quote


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def price_text(price: Decimal, currency: Currency) -> str:
    """A price (unit price, tier fee) as written: the currency's digits at least, and any
    sub-minor digits it has ("5.00", "0.005"); prices are not amounts and are never rounded."""
    return format_amount(price, currency) if at_minor_units(price, currency) else plain(price)


def line_document(line: InvoiceLine, currency: Currency) -> dict[str, Any]:
    return {
        "description": line.description,
        "metric": line.metric,
        "quantity": plain(line.quantity),
        "amount": format_amount(line.amount, currency),
        "period": None if line.start is None else {"start": _instant(line.start), "end": _instant(line.end)},
        "tiers": [
            {
                "quantity": plain(tier.quantity),
                "unit_price": plain(tier.unit_price),
                "flat_fee": price_text(tier.flat_fee, currency),
                "amount": format_amount(tier.amount, currency),
            }
            for tier in line.tiers
        ],
    }


def lines_document(lines: Iterable[InvoiceLine], currency: Currency) -> list[dict[str, Any]]:
    return [line_document(line, currency) for line in lines]


def invoice_document(invoice: Invoice, *, with_number: bool = True) -> dict[str, Any]:
    """SPEC §8 invoice; a preview's `before`/`after` leave out `number`."""
    currency = invoice.currency
    document: dict[str, Any] = {"number": invoice.number} if with_number else {}
    document.update(
        {
            "customer_id": invoice.customer_id,
            "status": invoice.status,
            "currency": currency.code,
            "period": {"start": _instant(invoice.period_start), "end": _instant(invoice.period_end)},
            "lines": lines_document(invoice.lines, currency),
            "subtotal": format_amount(invoice.subtotal, currency),
            "credits_applied": format_amount(invoice.credits_applied, currency),
            "total": format_amount(invoice.total, currency),
            "fingerprint": invoice.fingerprint,
            "issued_at": _instant(invoice.issued_at),
            "due_on": None if invoice.due_on is None else invoice.due_on.isoformat(),
        }
    )
    return document


def quote_document(quote: Quote) -> dict[str, Any]:
    """`billing quote --json`: currency, lines with `period` null, subtotal and total."""
    return {
        "currency": quote.currency.code,
        "lines": lines_document(quote.lines, quote.currency),
        "subtotal": format_amount(quote.subtotal, quote.currency),
        "total": format_amount(quote.total, quote.currency),
    }
