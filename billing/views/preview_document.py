"""The preview answer (SPEC §8): the period, the invoice before and after the events, the cost."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from billing.core.invoicing import Invoice
from billing.core.money import format_amount
from billing.core.periods import Period
from billing.views.documents import invoice_document, period_document


def preview_document(
    customer_id: str,
    mode: str,
    tz: ZoneInfo,
    shown: Period,
    before: Invoice,
    after: Invoice,
    catalog_version: str,
) -> dict[str, Any]:
    """`cost` is after - before, in the currency's minor units; `fingerprint` is the after
    invoice's (the rating inputs)."""
    return {
        "customer_id": customer_id,
        "mode": mode,
        "currency": after.currency.code,
        "period": period_document(shown.start, shown.end, tz),
        "before": invoice_document(before, with_number=False),
        "after": invoice_document(after, with_number=False),
        "cost": format_amount(after.total - before.total, after.currency),
        "fingerprint": after.fingerprint,
        "catalog_version": catalog_version,
    }
