"""Which spend and credit notifications a customer's usage and invoices call for: pure.

- `spend_threshold`: the current period's spend (`billing.core.spend.period_spend`) reached one
  of the customer's `spend_alerts`; one per alert per period (subject `alert/<threshold>`,
  period the period's first local day).
- `spend_forecast`: the projection (`project_usage`) reaches the highest alert while the spend
  has not: a warning before the overrun, once per period (subject `forecast/<highest>`).
- `credits_low`: a prepaid grant's balance (its amount less what finalized invoices burned) is
  under 20 % of it while it can still be used; once per grant (subject
  `credit/<contract start>/<index>`, period its `granted_on`).

A trial bills nothing, so it has no spend; a customer without alerts hears nothing of spend.
The send ledger's key makes each of them go out once, however often this is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from billing.core.catalog import Catalog
from billing.core.credits import credit_grants
from billing.core.invoicing import UsageBySegment
from billing.core.lifecycle import Reminder, customer_day
from billing.core.money import ZERO, format_amount
from billing.core.periods import Period, Schedule
from billing.core.spend import period_spend, project_usage

LOW_CREDIT_SHARE = Decimal("0.2")  # a balance under this share of its grant is low


def current_period(schedule: Schedule, as_of: datetime) -> Period | None:
    """The billed period in progress at `as_of`; None in a trial, before any contract, or
    once the contracts have ended (no segment bills it)."""
    period = schedule.period_at(as_of)
    if period is None or not schedule.segments(period):
        return None
    return period


def spend_reminders(
    catalog: Catalog, schedule: Schedule, period: Period, usage: UsageBySegment, as_of: datetime
) -> list[Reminder]:
    """The alerts the period's spend crossed and the forecast warning, on the usage so far."""
    customer = schedule.customer
    if not customer.spend_alerts:
        return []
    segments = schedule.segments(period)
    spend = period_spend(catalog, segments, usage).total
    currency = catalog.currency
    on = customer_day(customer, as_of)
    context = _period_context(catalog, schedule, period, as_of)
    context["spend"] = format_amount(spend, currency)
    reminders = [
        Reminder(
            customer.id,
            "spend_threshold",
            f"alert/{format_amount(threshold, currency)}",
            period.start_date.isoformat(),
            customer.email,
            {**context, "threshold": format_amount(threshold, currency)},
            on,
        )
        for threshold in sorted(customer.spend_alerts)
        if spend >= threshold
    ]
    highest = max(customer.spend_alerts)
    if spend < highest:
        projection = project_usage(catalog, segments, usage, as_of, schedule.tz)
        if projection is not None and projection.reaches(highest):
            projected = None if projection.spend is None else format_amount(projection.spend.total, currency)
            reminders.append(
                Reminder(
                    customer.id,
                    "spend_forecast",
                    f"forecast/{format_amount(highest, currency)}",
                    period.start_date.isoformat(),
                    customer.email,
                    {**context, "threshold": format_amount(highest, currency), "projected": projected},
                    on,
                )
            )
    return reminders


def _period_context(catalog: Catalog, schedule: Schedule, period: Period, as_of: datetime) -> dict[str, Any]:
    customer = schedule.customer
    segments = schedule.segments(period)
    current = next((s for s in segments if s.start <= as_of < s.end), segments[-1])
    plan = current.term.plan
    return {
        "customer_id": customer.id,
        "customer_name": customer.display_name,
        "currency": catalog.currency.code,
        "plan_name": plan.label,
        "minimum_commitment": _amount(plan.minimum_commitment, catalog),
        "period_first_day": period.start_date.isoformat(),
        "period_last_day": (period.end_date - timedelta(days=1)).isoformat(),
    }


def _amount(amount: Decimal | None, catalog: Catalog) -> str | None:
    return None if amount is None else format_amount(amount, catalog.currency)


def credits_low(
    catalog: Catalog, schedule: Schedule, credits_used: Mapping[str, Decimal], as_of: datetime
) -> list[Reminder]:
    """Each grant still usable on the customer's day whose balance is under 20 % of it."""
    customer = schedule.customer
    on = customer_day(customer, as_of)
    currency = catalog.currency
    reminders = []
    for grant in credit_grants(schedule):
        if on < grant.granted_on or (grant.expires_on is not None and on > grant.expires_on):
            continue
        remaining = max(grant.amount - credits_used.get(grant.key, ZERO), ZERO)
        if remaining >= grant.amount * LOW_CREDIT_SHARE:
            continue
        contract, _, index = grant.key.partition("/credit/")
        plan = next(t.plan for t in schedule.terms if t.key == contract)
        reminders.append(
            Reminder(
                customer.id,
                "credits_low",
                f"credit/{contract}/{index}",
                grant.granted_on.isoformat(),
                customer.email,
                {
                    "customer_id": customer.id,
                    "customer_name": customer.display_name,
                    "currency": currency.code,
                    "plan_name": plan.label,
                    "minimum_commitment": _amount(plan.minimum_commitment, catalog),
                    "granted": format_amount(grant.amount, currency),
                    "remaining": format_amount(remaining, currency),
                    "granted_on": grant.granted_on.isoformat(),
                    "expires_on": None if grant.expires_on is None else grant.expires_on.isoformat(),
                },
                on,
            )
        )
    return reminders
