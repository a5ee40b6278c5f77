"""The usage answer (`GET /v1/customers/{id}/usage`): the current period so far, in JSON.

Money is a decimal string at the currency's minor units, quantities plain decimal strings, days
the customer's local days (YYYY-MM-DD); `running_invoice` has the shape of a preview's `before`.
"""

from __future__ import annotations

from typing import Any

from billing.core.money import Currency, format_amount, plain
from billing.core.usage_so_far import CustomerUsage
from billing.views.documents import invoice_document, period_document


def usage_document(usage: CustomerUsage, currency: Currency) -> dict[str, Any]:
    period = usage.period
    tz = usage.tz

    def money(amount: Any) -> str | None:
        return None if amount is None else format_amount(amount, currency)

    return {
        "customer_id": usage.customer_id,
        "currency": currency.code,
        "as_of": usage.as_of.astimezone(tz).isoformat(),
        "period": None if period is None else period_document(period.start, period.end, tz),
        "metrics": [
            {
                "code": m.metric.code,
                "name": m.metric.label,
                "aggregation": m.metric.aggregation,
                "quantity": plain(m.quantity),
                "days": [{"day": d.day.isoformat(), "quantity": plain(d.quantity)} for d in m.days],
            }
            for m in usage.metrics
        ],
        "running_invoice": None
        if usage.running_invoice is None
        else invoice_document(usage.running_invoice, with_number=False),
        "spend": money(usage.spend),
        "projected_spend": money(usage.projected_spend),
        "projection_beyond_limit": usage.projection_beyond_limit,
        "credits_left": money(usage.credits_left),
        "credits": [
            {
                "key": c.key,
                "granted": money(c.granted),
                "remaining": money(c.remaining),
                "granted_on": c.granted_on.isoformat(),
                "expires_on": None if c.expires_on is None else c.expires_on.isoformat(),
                "usable": c.usable,
            }
            for c in usage.credits
        ],
        "spend_alerts": [money(a) for a in usage.spend_alerts],
    }
