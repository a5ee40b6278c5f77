"""A customer's current period so far: what a console draws and `GET /v1/customers/{id}/usage` answers.

- The running invoice is exactly the preview's `before` (`preview_outcome` with no events): the
  same code path, the same figures.
- Each metric's quantity so far in the period is the running invoice's own: the preview's read
  of the period's segments (`PreviewOutcome.current_states`), merged across them as the core
  merges aggregates (counts and sums add, the greatest `max`, the `latest` of the greatest
  (timestamp, transaction_id)), so the period is read once and the totals always equal the
  running invoice's quantities. Only what those states cannot give is read for the whole
  period, in the same snapshot: a `unique_count` over several segments (distinct values do not
  add up), or every metric when the contracts leave days of the period unbilled.
- Per local day in the customer's zone, every metric of every day in one statement
  (`billing.store.daily_usage`): the days' bounds are local midnights computed by zoneinfo,
  each a 15-minute bucket edge, and the usage rollups' buckets are grouped by the day holding
  them where they hold every stored event, the raw events metered per day otherwise. Every
  local day from the period's first through today (or the period's last day, if sooner) is
  listed, a day without usage at zero.
- Spend (SPEC §9: the period's usage and flat charges so far, before taxes and credits) and its
  projection to the period's end (`project_usage`: the one projection spend alerts use), with
  the customer's `spend_alerts` to draw them against.
- Prepaid credits left: each grant less what finalized invoices burned (the running invoice's
  own `credits_applied` is not burned yet).

A customer without a billed period in progress (before its first contract, in a trial, after
its contracts end) has `period` None and no metrics, invoice or projection; its credits and
alerts are still given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from billing.core.catalog import Catalog
from billing.core.credits import credit_grants
from billing.core.line_hints import line_hints
from billing.core.local_days import local_day
from billing.core.metering import Meter, MetricState
from billing.core.money import ZERO
from billing.core.periods import Period, Schedule, local_midnight
from billing.core.spend import period_spend, project_usage
from billing.core.spend_alerts import current_period
from billing.core.usage_so_far import CreditLeft, CustomerUsage, DayUsage, MetricUsage
from billing.services.preview import DEFAULT_STATEMENT_SECONDS, preview_outcome
from billing.store import spend_evaluations
from billing.store.catalog_versions import StoredCatalog
from billing.store.daily_usage import DayQuantities, usage_by_day
from billing.store.metering_sql import SegmentKey, meter_segments
from billing.store.statement_bounds import bounded_snapshot


def _day_edges(period: Period, through: date, tz: ZoneInfo) -> tuple[list[date], list[datetime]]:
    """Each local day of the period up to `through`, and the UTC instants bounding them: day i
    is [edges[i], edges[i + 1]), each edge a local midnight (zoneinfo's, DST's 23- and 25-hour
    days included)."""
    days = []
    day = period.start_date
    last = min(through, period.end_date - timedelta(days=1))
    while day <= last:
        days.append(day)
        day += timedelta(days=1)
    edges = [local_midnight(d, tz) for d in days]
    if days:
        edges.append(local_midnight(days[-1] + timedelta(days=1), tz))
    return days, edges


def customer_usage(
    engine: Engine,
    stored: StoredCatalog,
    customer_id: str,
    now: datetime,
    statement_seconds: float = DEFAULT_STATEMENT_SECONDS,
) -> CustomerUsage:
    stored.catalog.customer(customer_id)  # UnknownCustomer (404) before any database work
    # the days, credits and running invoice: one snapshot
    with engine.connect() as connection, bounded_snapshot(connection, statement_seconds):
        return customer_usage_on(connection, engine, stored, customer_id, now, statement_seconds)


def customer_usage_on(
    connection: Connection,
    engine: Engine,
    stored: StoredCatalog,
    customer_id: str,
    now: datetime,
    statement_seconds: float,
) -> CustomerUsage:
    """`customer_usage` read on `connection`, in its transaction (begun with `bounded_snapshot`
    by the caller, who may read more in the same snapshot: the console)."""
    catalog = stored.catalog
    customer = catalog.customer(customer_id)
    schedule = Schedule(catalog, customer)
    tz = schedule.tz
    today = local_day(now, tz)
    period = current_period(schedule, now)
    used, _ = spend_evaluations.credit_balances(connection, [customer_id])
    days: list[date] = []
    daily: list[DayQuantities] = []
    if period is not None:
        days, edges = _day_edges(period, today, tz)
        daily = usage_by_day(connection, catalog, customer_id, edges)  # every day, one statement
    credits = tuple(
        CreditLeft(
            grant.key,
            grant.amount,
            max(grant.amount - used[customer_id].get(grant.key, ZERO), ZERO),
            grant.granted_on,
            grant.expires_on,
            grant.granted_on <= today and (grant.expires_on is None or today <= grant.expires_on),
        )
        for grant in credit_grants(schedule)
    )
    alerts = tuple(sorted(customer.spend_alerts))
    if period is None:
        return CustomerUsage(customer_id, tz, now, None, (), None, {}, None, None, False, credits, alerts)
    outcome = preview_outcome(engine, stored, customer_id, [], "merge", now, statement_seconds, connection)
    totals = _period_totals(connection, catalog, schedule, period, outcome.current_states)
    metrics = tuple(
        MetricUsage(
            metric,
            totals[metric.code],
            tuple(
                DayUsage(day, quantities[metric.code]) for day, quantities in zip(days, daily, strict=True)
            ),
        )
        for metric in catalog.metrics
    )
    segments = schedule.segments(period)
    usage = {(s.start, s.end): outcome.before_usage.get((s.start, s.end), {}) for s in segments}
    spend = period_spend(catalog, segments, usage).total
    projection = project_usage(catalog, segments, usage, now, tz)
    projected = None if projection is None or projection.spend is None else projection.spend.total
    return CustomerUsage(
        customer_id,
        tz,
        now,
        period,
        metrics,
        outcome.before,
        line_hints(schedule, period, outcome.before.lines),
        spend,
        projected,
        projection is not None and projection.beyond_limit,
        credits,
        alerts,
    )


def _period_totals(
    connection: Connection,
    catalog: Catalog,
    schedule: Schedule,
    period: Period,
    states: Mapping[SegmentKey, Mapping[str, MetricState]],
) -> dict[str, Decimal]:
    """Each metric's quantity over the period: its segments' stored states merged (the usage the
    running invoice was priced on), read for the whole period only where they cannot give it."""
    customer_id = schedule.customer.id
    segments = schedule.segments(period)
    keys = [(customer_id, s.start, s.end) for s in segments]
    covered = (  # else (no segment, a gap, a segment the preview did not read) the whole period
        bool(segments)
        and segments[0].start == period.start
        and segments[-1].end == period.end
        and all(a.end == b.start for a, b in pairwise(segments))
        and all(key in states for key in keys)
    )
    unmergeable = [
        m for m in catalog.metrics if not covered or (len(segments) > 1 and m.aggregation == "unique_count")
    ]
    totals: dict[str, Decimal] = {}
    if covered:  # else every metric is read for the whole period below
        merged = Meter(catalog.metrics)
        for key in keys:
            merged.merge(Meter.resume(catalog.metrics, states[key]))
        totals = {code: usage.quantity for code, usage in merged.usage().items()}
    if unmergeable:
        whole = (customer_id, period.start, period.end)
        read = meter_segments(connection, catalog, [whole], unmergeable)[whole]
        totals.update({m.code: read[m.code].quantity for m in unmergeable})
    return totals
