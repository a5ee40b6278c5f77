"""The JSON shapes of lines, invoices and quotes (SPEC §8), shared by the API and the CLI.

Money is a decimal string with exactly the currency's minor-unit digits, formatted as it was
billed (an amount not at minor units is refused, never rounded here: lines and their tiers are
rounded once, in `billing.core.rating`); quantities and unit prices are plain decimal strings;
instants are ISO 8601 written with the customer's offset ("2026-10-01T00:00:00+02:00"). Each
period also names its local days, first and last inclusive (`first_day`, `last_day`), and an
invoice its local issue date (`issued_on`): what documents for people print.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.core.invoicing import Invoice
from billing.core.local_days import local_day, local_days, local_instant
from billing.core.money import Currency, at_minor_units, format_amount, plain
from billing.core.rating import InvoiceLine, Quote
from billing.core.taxes import TaxLine

UTC_ZONE = ZoneInfo("UTC")


def _instant(value: datetime | None, tz: ZoneInfo) -> str | None:
    return None if value is None else local_instant(value, tz).isoformat()


def period_document(start: datetime, end: datetime, tz: ZoneInfo) -> dict[str, str]:
    """A period `[start, end)`: its instants with the customer's offset, and its local days."""
    days = local_days(start, end, tz)
    return {
        "start": local_instant(start, tz).isoformat(),
        "end": local_instant(end, tz).isoformat(),
        "first_day": days.first.isoformat(),
        "last_day": days.last.isoformat(),
    }


def price_text(price: Decimal, currency: Currency) -> str:
    """A price (unit price, tier fee) as written: the currency's digits at least, and any
    sub-minor digits it has ("5.00", "0.005"); prices are not amounts and are never rounded."""
    return format_amount(price, currency) if at_minor_units(price, currency) else plain(price)


def _line_period(line: InvoiceLine, tz: ZoneInfo) -> dict[str, str] | None:
    if line.start is None or line.end is None:
        return None
    return period_document(line.start, line.end, tz)


def line_document(line: InvoiceLine, currency: Currency, tz: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    return {
        "description": line.description,
        "metric": line.metric,
        "quantity": plain(line.quantity),
        "amount": format_amount(line.amount, currency),
        "period": _line_period(line, tz),
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


def lines_document(
    lines: Iterable[InvoiceLine], currency: Currency, tz: ZoneInfo = UTC_ZONE
) -> list[dict[str, Any]]:
    return [line_document(line, currency, tz) for line in lines]


def taxes_document(taxes: Iterable[TaxLine], currency: Currency) -> list[dict[str, str]]:
    """Each tax: its name, its rate as a plain percentage ("20", "2.5"), its amount."""
    return [
        {"name": t.name, "rate": plain(t.rate), "amount": format_amount(t.amount, currency)} for t in taxes
    ]


def invoice_document(invoice: Invoice, *, with_number: bool = True) -> dict[str, Any]:
    """SPEC §8 invoice; a preview's `before`/`after` leave out `number`. `kind` is "invoice" or
    "credit_note"; a credit note names the invoice it credits in `corrects`, and why in `reason`
    (`void`, `backfill` or `remainder`; null for an invoice)."""
    currency = invoice.currency
    tz = ZoneInfo(invoice.timezone)
    document: dict[str, Any] = {"number": invoice.number} if with_number else {}
    document.update(
        {
            "customer_id": invoice.customer_id,
            "status": invoice.status,
            "currency": currency.code,
            "period": period_document(invoice.period_start, invoice.period_end, tz),
            "lines": lines_document(invoice.lines, currency, tz),
            "subtotal": format_amount(invoice.subtotal, currency),
            "taxes": taxes_document(invoice.taxes, currency),
            "credits_applied": format_amount(invoice.credits_applied, currency),
            "total": format_amount(invoice.total, currency),
            "fingerprint": invoice.fingerprint,
            "issued_at": _instant(invoice.issued_at, tz),
            "issued_on": None if invoice.issued_at is None else local_day(invoice.issued_at, tz).isoformat(),
            "due_on": None if invoice.due_on is None else invoice.due_on.isoformat(),
            "kind": invoice.kind,
            "corrects": invoice.corrects,
            "reason": invoice.reason,
            "paid_at": _instant(invoice.paid_at, tz),
            "voided_at": _instant(invoice.voided_at, tz),
        }
    )
    return document


def quote_document(quote: Quote) -> dict[str, Any]:
    """`billing quote --json`: currency, lines with `period` null, subtotal, taxes and total."""
    return {
        "currency": quote.currency.code,
        "lines": lines_document(quote.lines, quote.currency),
        "subtotal": format_amount(quote.subtotal, quote.currency),
        "taxes": taxes_document(quote.taxes, quote.currency),
        "total": format_amount(quote.total, quote.currency),
    }
