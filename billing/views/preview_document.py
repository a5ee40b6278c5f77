"""The preview answer (SPEC §8): the period, the invoice before and after the events, the cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from billing.core.invoicing import Invoice
from billing.core.line_keys import LineKey
from billing.core.money import Currency, format_amount, plain
from billing.core.periods import Period
from billing.core.pricing.base import TierHint
from billing.core.projected_quantity import display_projection
from billing.core.spend import Projection
from billing.views.documents import invoice_document, period_document, price_text


def preview_document(
    customer_id: str,
    mode: str,
    tz: ZoneInfo,
    shown: Period,
    before: Invoice,
    after: Invoice,
    catalog_version: str,
    hints: Mapping[LineKey, TierHint],
    projection: Projection | None,
) -> dict[str, Any]:
    """`cost` is after - before, in the currency's minor units; `fingerprint` is the after
    invoice's (the rating inputs); `before` and `after` have the invoice's shape. `usage_lines`:
    per usage line of `after` (`line`: its index), its `hint` and `projected` quantity and
    amount (null when there is none: a line of an earlier period, before the period started),
    the quantity rounded up to the digits the line's own quantity has (`display_projection`: a
    forecast of billable units, priced exactly; only its text is rounded);
    `projected`: the period's projected spend (usage and flat charges, before taxes and
    credits: what spend forecasts compare)."""
    currency = after.currency
    projected_lines = (
        {}
        if projection is None or projection.spend is None
        else {line.key: line for line in projection.spend.lines}
    )
    usage_lines = []
    for index, line in enumerate(after.lines):
        if line.kind != "usage":
            continue
        hint = hints.get(line.key)
        at_end = projected_lines.get(line.key)
        usage_lines.append(
            {
                "line": index,
                "metric": line.metric,
                "description": line.description,
                "hint": None if hint is None else hint_document(hint, currency),
                "projected": None
                if at_end is None
                else {
                    "quantity": plain(display_projection(at_end.quantity, line.quantity)),
                    "amount": format_amount(at_end.amount, currency),
                },
            }
        )
    spend = None if projection is None else projection.spend
    return {
        "customer_id": customer_id,
        "mode": mode,
        "currency": after.currency.code,
        "period": period_document(shown.start, shown.end, tz),
        "before": invoice_document(before, with_number=False),
        "after": invoice_document(after, with_number=False),
        "usage_lines": usage_lines,
        "projected": None if spend is None else format_amount(spend.total, currency),
        "projected_beyond_limit": projection is not None and projection.beyond_limit,
        "cost": format_amount(after.total - before.total, after.currency),
        "fingerprint": after.fingerprint,
        "catalog_version": catalog_version,
    }


def hint_document(hint: TierHint, currency: Currency) -> dict[str, Any]:
    """A line's `hint`: the band (`tier` from 0, `from` .. `up_to` half-open, its `unit_price`
    per `per_units`), units to the next band and its unit price (null in the last band), free
    units left (null without a free allowance)."""

    def optional(value: Any) -> str | None:
        return None if value is None else plain(value)

    return {
        "tier": hint.tier,
        "from": plain(hint.tier_from),
        "up_to": optional(hint.tier_up_to),
        "unit_price": price_text(hint.unit_price, currency),
        "per_units": plain(hint.per_units),
        "units_to_next_tier": optional(hint.units_to_next_tier),
        "next_unit_price": None
        if hint.next_unit_price is None
        else price_text(hint.next_unit_price, currency),
        "free_units_left": optional(hint.free_units_left),
    }
