"""A customer's current period so far, as the usage service computes it: plain, typed values.

`billing.services.customer_usage` fills it; `billing.views.usage_document` writes it as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.core.catalog import Metric
from billing.core.invoicing import Invoice
from billing.core.line_keys import LineKey
from billing.core.money import ZERO
from billing.core.periods import Period
from billing.core.pricing.base import TierHint


@dataclass(frozen=True, slots=True)
class DayUsage:
    day: date  # a local calendar day of the customer
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class MetricUsage:
    metric: Metric
    quantity: Decimal  # the period so far, aggregated over the whole period (not a sum of days)
    days: tuple[DayUsage, ...]


@dataclass(frozen=True, slots=True)
class CreditLeft:
    key: str
    granted: Decimal
    remaining: Decimal  # never below zero
    granted_on: date
    expires_on: date | None
    usable: bool  # valid on the customer's today


@dataclass(frozen=True, slots=True)
class CustomerUsage:
    customer_id: str
    tz: ZoneInfo
    as_of: datetime
    period: Period | None
    metrics: tuple[MetricUsage, ...]
    running_invoice: Invoice | None
    hints: Mapping[LineKey, TierHint]  # per usage line of the running invoice: as a preview's `hint`
    spend: Decimal | None
    projected_spend: Decimal | None  # None before the period started or past any invoice's range
    projection_beyond_limit: bool
    credits: tuple[CreditLeft, ...]
    spend_alerts: tuple[Decimal, ...]

    @property
    def credits_left(self) -> Decimal:
        return sum((c.remaining for c in self.credits if c.usable), ZERO)
