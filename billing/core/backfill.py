"""Backfills: what finalized periods should have billed, against what was billed for them.

A backfill re-rates a finalized period with the usage stored today, through the same rating
code as invoices (`rate_segment`, `rate_in_advance`), and compares each line with what was
billed under the same `LineKey`: the finalized invoices' lines (adjustments included) plus the
corrections still pending for the next invoice. Billed = to be billed - already billed, so a
difference corrected once is not found again.

A period's lines come from two invoices: the one issued when it opens bills its in-advance
fees, the one issued when it closes bills its usage, in-arrears fees and true-up. Each is
re-rated with the catalog its own invoice was rated with, unless the backfill names one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from billing.core.catalog import Catalog
from billing.core.invoicing import NOTHING_BILLED, Billed, UsageBySegment, with_corrections
from billing.core.line_keys import LineKey
from billing.core.local_days import local_days
from billing.core.periods import Period, Schedule, Segment
from billing.core.rating import InvoiceLine, Timing, rate_in_advance, rate_segment

Action = Literal["none", "adjustment", "credit"]


@dataclass(frozen=True, slots=True)
class LineDifference:
    """One line of a finalized period: what was billed, what should have been."""

    key: LineKey
    description: str
    metric: str | None
    start: datetime | None
    end: datetime | None
    timing: Timing  # in_advance: billed by the invoice that opened the period
    billed: Decimal
    billed_quantity: Decimal
    should: Decimal
    should_quantity: Decimal

    @property
    def difference(self) -> Decimal:
        return self.should - self.billed

    @property
    def action(self) -> Action:
        """An undercharge is adjusted on the next invoice, an overcharge credited."""
        if self.difference > 0:
            return "adjustment"
        if self.difference < 0:
            return "credit"
        return "none"

    def correction(self, days: str) -> InvoiceLine:
        """The line that corrects the difference, `days` being the period's local days: an
        adjustment for the next invoice, or a credit note's (negative) credit line."""
        verb = "Credit" if self.action == "credit" else "Adjustment"
        return InvoiceLine(
            key=self.key,
            kind="adjustment",
            description=f"{verb}: {self.description} for {days} (backfill)",
            metric=self.metric,
            quantity=self.should_quantity - self.billed_quantity,
            amount=self.difference,
            start=self.start,
            end=self.end,
        )


@dataclass(frozen=True, slots=True)
class PeriodComparison:
    """A customer's finalized period re-rated: every line it billed or should have billed."""

    customer_id: str
    period: Period
    days: str  # its local days, as a person reads them
    lines: tuple[LineDifference, ...]

    @property
    def differences(self) -> tuple[LineDifference, ...]:
        return tuple(line for line in self.lines if line.action != "none")

    def corrections(self) -> list[tuple[LineDifference, InvoiceLine]]:
        return [(line, line.correction(self.days)) for line in self.differences]


def finalized_periods(schedule: Schedule, last_finalized: int, start: date, end: date) -> list[Period]:
    """The periods whose first local day lies in `[start, end)` and whose closing invoice (at
    the next boundary) is finalized."""
    found = []
    for period in schedule.periods():
        if period.start_date >= end or period.index + 1 > last_finalized:
            break
        if period.start_date >= start:
            found.append(period)
    return found


def closing_segments(catalog: Catalog, customer_id: str, index: int) -> tuple[Segment, ...]:
    """The segments of period `index` as `catalog` lays them out: what must be metered."""
    schedule = Schedule.of(catalog, customer_id)
    period = schedule.period(index)
    return () if period is None else schedule.segments(period)


def should_bill(
    customer_id: str, index: int, closing: Catalog, opening: Catalog, usage: UsageBySegment
) -> list[InvoiceLine]:
    """Every line period `index` should bill: its usage, in-arrears fees and true-up rated with
    `closing` on `usage` (by segment instants), its in-advance fees rated with `opening`."""
    due: list[InvoiceLine] = []
    for segment in closing_segments(closing, customer_id, index):
        due += rate_segment(segment, usage[(segment.start, segment.end)], closing).closing
    for segment in closing_segments(opening, customer_id, index):
        due += rate_in_advance(segment, opening)
    return due


def compare_period(
    customer_id: str,
    period: Period,
    days: str,
    due: Iterable[InvoiceLine],
    billed: Mapping[LineKey, Billed],
    pending: Iterable[InvoiceLine] = (),
) -> PeriodComparison:
    """Each line the period should bill against what was billed under its key (pending
    corrections counted as billed); a key billed before and no longer due should bill 0. A key
    a void reversed is left out: voiding is the operator's decision, a backfill does not undo it."""
    already = with_corrections(billed, pending)
    lines: list[LineDifference] = []
    seen: set[LineKey] = set()
    for line in due:
        seen.add(line.key)
        prior = already.get(line.key, NOTHING_BILLED)
        if prior.reversed:  # voided: its credit note reversed it, and a backfill never re-bills it
            continue
        lines.append(
            LineDifference(
                line.key,
                line.description,
                line.metric,
                line.start,
                line.end,
                line.timing,
                prior.amount,
                prior.quantity,
                line.amount,
                line.quantity,
            )
        )
    gone = sorted(
        key
        for key, prior in already.items()
        if key.period == period.start_date and key not in seen and not prior.reversed
    )
    for key in gone:  # billed, no longer due; which invoice billed it is not kept: the closing one
        prior = already[key]
        zero = prior.amount * 0
        lines.append(
            LineDifference(
                key, prior.description, prior.metric, prior.start, prior.end, "in_arrears",
                prior.amount, prior.quantity, zero, zero,
            )
        )  # fmt: skip
    return PeriodComparison(customer_id, period, days, tuple(lines))


def period_days(schedule: Schedule, period: Period) -> str:
    """The period's local days: `1 Oct 2026 – 31 Oct 2026`."""
    return str(local_days(period.start, period.end, schedule.tz))


@dataclass(frozen=True, slots=True)
class BackfillLine:
    """One line a backfill found billed wrong, and what it does (or would do) about it."""

    customer_id: str
    period_days: str  # the period's local days
    description: str
    currency: str
    billed: Decimal
    should: Decimal
    action: Action  # adjustment (undercharge) | credit (overcharge)
    invoice: str | None  # the number of the invoice that billed it
    credit_note: str | None = None  # an applied credit's: the credit note that carries it

    @property
    def difference(self) -> Decimal:
        return self.should - self.billed


@dataclass
class BackfillReport:
    dry_run: bool
    customers: int = 0
    periods: int = 0  # finalized periods re-rated
    lines_checked: int = 0
    lines: list[BackfillLine] = field(default_factory=list)  # the differences, each corrected once

    def add(self, other: BackfillReport) -> BackfillReport:
        self.customers += other.customers
        self.periods += other.periods
        self.lines_checked += other.lines_checked
        self.lines.extend(other.lines)
        return self
