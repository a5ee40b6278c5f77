"""A period's spend so far and its projection to the period's end: pure, one definition.

Spend is the period's charges so far (SPEC §9): every segment's usage lines and the flat
charges covering the period, whichever invoice carries them, before taxes, credits and the
minimum's true-up. The projection scales the `count` and `sum` quantities of each segment by
the elapsed share of that segment in the customer's zone (local wall-clock time elapsed over
its length: a 30-day period is half gone at noon of its 15th day, whatever the DST changes),
holds `max`, `latest` and `unique_count` at their value, and prices the result through the same
rating code invoices use (`billing.core.rating.rate_segment`). The spend alerts, the preview
and the console all call these two functions, on plain inputs: the period's segments, each
segment's metered usage and an instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Context, Decimal, DivisionByZero, InvalidOperation, Overflow
from zoneinfo import ZoneInfo

from billing.core.catalog import Catalog, Metric
from billing.core.errors import InvalidUsage
from billing.core.invoicing import UsageBySegment
from billing.core.money import ZERO
from billing.core.periods import Segment
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import InvoiceLine, PeriodCharges, rate_segment

SCALED_AGGREGATIONS = frozenset({"count", "sum"})  # the others are held at their value
_MICROSECOND = timedelta(microseconds=1)
# Rounded up, so that a projection is never below what it projects (at a full share it is
# exact: quantity x length / length); 80 digits hold any metered quantity times a period length.
_UPWARD = Context(prec=80, rounding=ROUND_CEILING, traps=[InvalidOperation, DivisionByZero, Overflow])


@dataclass(frozen=True, slots=True)
class ElapsedShare:
    """How much of a segment has gone by, as an exact ratio of local microseconds."""

    elapsed: int
    length: int

    @property
    def started(self) -> bool:
        return self.elapsed > 0

    @property
    def complete(self) -> bool:
        return self.elapsed >= self.length

    def scale(self, quantity: Decimal) -> Decimal:
        """`quantity / share`, rounded up at 80 digits; exact at a full share."""
        if self.complete:
            return quantity
        return _UPWARD.divide(_UPWARD.multiply(quantity, self.length), self.elapsed)

    def scale_count(self, count: int) -> int:
        return count if self.complete else -(-count * self.length // self.elapsed)


def elapsed_share(first_day: date, end_day: date, as_of: datetime, tz: ZoneInfo) -> ElapsedShare:
    """The share of local days `[first_day, end_day)` gone by at `as_of`, between 0 and 1."""
    wall = as_of.astimezone(tz).replace(tzinfo=None)
    start = datetime.combine(first_day, time())
    length = (end_day - first_day) // _MICROSECOND
    elapsed = (wall - start) // _MICROSECOND
    return ElapsedShare(min(max(elapsed, 0), length), length)


@dataclass(frozen=True, slots=True)
class PeriodSpend:
    """A period's charges, segment by segment, and what they add up to before the true-up."""

    charges: tuple[PeriodCharges, ...]

    @property
    def lines(self) -> tuple[InvoiceLine, ...]:
        """Usage and flat lines: the true-up is not spend."""
        return tuple(line for part in self.charges for line in part.lines if line.kind != "minimum")

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def period_spend(catalog: Catalog, segments: Sequence[Segment], usage: UsageBySegment) -> PeriodSpend:
    """The period's charges on its usage so far (a segment missing from `usage` used nothing)."""
    return PeriodSpend(tuple(rate_segment(s, usage.get((s.start, s.end), {}), catalog) for s in segments))


@dataclass(frozen=True, slots=True)
class Projection:
    """The period's charges at its end if usage goes on at its rate so far.

    `beyond_limit`: the projection prices a line past what one invoice line can bill (a burst
    right at the start of a period): it crosses any alert, and has no lines to show."""

    shares: tuple[ElapsedShare, ...]
    spend: PeriodSpend | None
    beyond_limit: bool = False

    def reaches(self, amount: Decimal) -> bool:
        return self.beyond_limit or (self.spend is not None and self.spend.total >= amount)


def scaled_usage(
    usage: Mapping[str, MeteredUsage], metrics: Mapping[str, Metric], share: ElapsedShare
) -> dict[str, MeteredUsage]:
    """One segment's usage at its end, at the rate so far: `count` and `sum` scaled, the rest held."""
    if share.complete or not share.started:
        return dict(usage)
    scaled = {}
    for code, metered in usage.items():
        metric = metrics.get(code)
        if metric is not None and metric.aggregation in SCALED_AGGREGATIONS:
            metered = MeteredUsage(share.scale(metered.quantity), share.scale_count(metered.events))
        scaled[code] = metered
    return scaled


def project_usage(
    catalog: Catalog,
    segments: Sequence[Segment],
    usage: UsageBySegment,
    as_of: datetime,
    tz: ZoneInfo,
) -> Projection | None:
    """The period's projected charges at `as_of`; None before any of its segments started
    (elapsed share 0: no rate to project from). A segment not started yet keeps its usage
    (normally none) and its flat charges; a finished one is as metered."""
    shares = tuple(elapsed_share(s.start_date, s.end_date, as_of, tz) for s in segments)
    if not any(share.started for share in shares):
        return None
    metrics = catalog.metrics_by_code
    projected = {
        (s.start, s.end): scaled_usage(usage.get((s.start, s.end), {}), metrics, share)
        for s, share in zip(segments, shares, strict=True)
    }
    try:
        return Projection(shares, period_spend(catalog, segments, projected))
    except InvalidUsage:  # a line past 10^15: the rate so far is off any scale an alert has
        return Projection(shares, None, beyond_limit=True)
