"""The console page (SPEC §8) as HTML: the service's `ConsolePage` laid out for the template.

Amounts stay decimal text at the currency's minor units and are printed by the template's
`money` filter, never through a float. Only the charts' geometry (bar heights, positions) is
floating point: a picture of the figures, which the page also prints as text in each mark's
title and in a table for screen readers.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from billing.core.console_data import ConsolePage
from billing.core.local_days import local_day
from billing.core.money import Currency, format_amount, plain
from billing.notify.rendering import environment
from billing.views.documents import price_text

CHART_WIDTH = 320
CHART_HEIGHT = 120
UPCOMING_LABELS = {
    "trial_end": "Trial ends",
    "renewal": "Renews",
    "contract_end": "Contract ends",
}
KIND_LABELS = {
    "trial_ending": "Trial ending",
    "trial_ended": "Trial ended",
    "renewal_upcoming": "Renewal coming up",
    "renewed": "Renewed",
    "contract_ending": "Contract ending",
    "spend_threshold": "Spend alert reached",
    "spend_forecast": "Spend forecast",
    "credits_low": "Credits running low",
    "invoice_issued": "Invoice issued",
    "credit_note_issued": "Credit note issued",
}


def _chart(days: list[tuple[str, Decimal]], period_days: int) -> dict[str, Any]:
    """Bars of a metric's usage per day, each day of the period a slot (the days to come are
    empty): one mark per day with usage, none for a zero day."""
    top = max((q for _, q in days), default=Decimal(0))
    slot = CHART_WIDTH / max(period_days, len(days), 1)
    marks = []
    for index, (day, quantity) in enumerate(days):
        if quantity <= 0 or top <= 0:
            continue
        height = max(float(quantity / top) * (CHART_HEIGHT - 4), 1.0)
        marks.append(
            {
                "day": day,
                "quantity": plain(quantity),
                "x": round(index * slot + slot * 0.15, 2),
                "width": round(max(slot * 0.7, 1.0), 2),
                "y": round(CHART_HEIGHT - height, 2),
                "height": round(height, 2),
            }
        )
    return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "marks": marks, "top": plain(top)}


def _tier_positions(page: ConsolePage) -> list[dict[str, Any]]:
    """Per banded usage line of the running invoice, where its usage so far sits: the line's
    hint (`CustomerUsage.hints`), exactly the preview's `hint` for the same line, so the console
    and the API say the same. `tier` counts from 1 for people (the API's `tier` + 1); a line of
    one unbounded band (a per-unit or percentage charge) has no position to show."""
    invoice = page.usage.running_invoice
    if invoice is None:
        return []
    currency = invoice.currency
    positions = []
    for index, line in enumerate(invoice.lines):
        hint = page.usage.hints.get(line.key)
        if hint is None or (hint.tier_up_to is None and hint.tier == 0):
            continue
        positions.append(
            {
                "line": index,
                "description": line.description,
                "quantity": plain(line.quantity),
                "tier": hint.tier + 1,
                "unit_price": price_text(hint.unit_price, currency),
                "per_units": None if hint.per_units == 1 else plain(hint.per_units),
                "units_to_next_tier": None
                if hint.units_to_next_tier is None
                else plain(hint.units_to_next_tier),
                "next_unit_price": None
                if hint.next_unit_price is None
                else price_text(hint.next_unit_price, currency),
                "free_units_left": None if hint.free_units_left is None else plain(hint.free_units_left),
            }
        )
    return positions


def _alerts(page: ConsolePage, currency: Currency) -> list[dict[str, Any]]:
    spend, projected = page.usage.spend, page.usage.projected_spend
    return [
        {
            "threshold": format_amount(alert, currency),
            "reached": spend is not None and spend >= alert,
            "projected": projected is not None and projected >= alert,
        }
        for alert in page.usage.spend_alerts
    ]


def _gauge(page: ConsolePage) -> dict[str, Any] | None:
    """Spend and projected spend on one scale with the alerts as ticks (percentages of it)."""
    usage = page.usage
    if usage.spend is None:
        return None
    values = [usage.spend, usage.projected_spend or Decimal(0), *usage.spend_alerts]
    scale = max(values) or Decimal(1)

    def share(value: Decimal) -> float:
        return round(float(value / scale) * 100, 2)

    return {
        "spend": share(usage.spend),
        "projected": None if usage.projected_spend is None else share(usage.projected_spend),
        "alerts": [share(a) for a in usage.spend_alerts],
    }


def console_context(page: ConsolePage, token: str) -> dict[str, Any]:
    usage = page.usage
    currency = Currency.of(page.currency)
    quoted = quote(token, safe="")
    invoice = usage.running_invoice
    metrics = [
        {
            "code": m.metric.code,
            "name": m.metric.name or m.metric.code,
            "quantity": plain(m.quantity),
            "days": [{"day": d.day.isoformat(), "quantity": plain(d.quantity)} for d in m.days],
            "chart": _chart(
                [(d.day.isoformat(), d.quantity) for d in m.days],
                0 if usage.period is None else usage.period.days,
            ),
        }
        for m in usage.metrics
    ]
    return {
        "customer_id": page.customer_id,
        "customer_name": page.customer_name,
        "currency": page.currency,
        "today": page.today.isoformat(),
        "period": None
        if usage.period is None
        else {
            "first_day": usage.period.start_date.isoformat(),
            "last_day": (usage.period.end_date - timedelta(days=1)).isoformat(),
        },
        "spend": None if usage.spend is None else format_amount(usage.spend, currency),
        "projected": None
        if usage.projected_spend is None
        else format_amount(usage.projected_spend, currency),
        "running_total": None if invoice is None else format_amount(invoice.total, currency),
        "gauge": _gauge(page),
        "alerts": _alerts(page, currency),
        "metrics": metrics,
        "tiers": _tier_positions(page),
        "credits_left": format_amount(usage.credits_left, currency),
        "has_credits": bool(usage.credits),
        "upcoming": [{"label": UPCOMING_LABELS[d.kind], "on": d.on.isoformat()} for d in page.upcoming],
        "invoices": [
            {
                "number": i.number,
                "kind": "Credit note" if i.kind == "credit_note" else "Invoice",
                "status": i.status,
                "total": format_amount(i.total, i.currency),
                "currency": i.currency.code,
                "issued_on": None
                if i.issued_at is None
                else local_day(i.issued_at, ZoneInfo(i.timezone)).isoformat(),
                "html": f"/console/invoices/{quote(i.number or '', safe='')}.html?token={quoted}",
                "pdf": f"/console/invoices/{quote(i.number or '', safe='')}.pdf?token={quoted}",
            }
            for i in page.invoices
        ],
        "notifications": [
            {
                "kind": KIND_LABELS.get(n.kind, n.kind.replace("_", " ").capitalize()),
                "status": n.status,
                "on": n.on.isoformat(),
            }
            for n in page.notifications
        ],
    }


def render_console_page(page: ConsolePage, token: str, style_nonce: str) -> str:
    context = console_context(page, token) | {"style_nonce": style_nonce}
    return environment().get_template("console.html").render(context)
