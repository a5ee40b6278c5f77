"""Billing periods: anniversary periods in the customer's time zone, contract segments, proration.

Periods start at local midnight on the anchor day (the first contract's start, or the end of its
trial) and repeat every plan interval; the n-th start is computed from the anchor itself, so a
month-end anchor bills to the last day of shorter months and comes back (Jan 31 -> Feb 28 ->
Mar 31). Periods are half-open `[start, end)` in UTC. A contract's part of a period is a
`Segment`; a plan change splits a period into two segments, each rated alone.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from billing.core.catalog import Catalog, Contract, Customer, Plan
from billing.core.line_keys import SegmentId
from billing.core.pricing import ChargeModel, bills_in_advance, charge_names
from billing.core.pricing.base import Coverage


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` starts in `tz`."""
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def add_months(anchor: date, months: int) -> date:
    """The anniversary `months` after `anchor`, on its day or the month's last (Jan 31 -> Feb 28).

    Same result as dateutil's `relativedelta(months=n)`; the stdlib version is several times
    faster, which matters when ten thousand customers' periods are laid out in one run.
    """
    years, month0 = divmod(anchor.month - 1 + months, 12)
    year, month = anchor.year + years, month0 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar day an aware instant falls on in `tz`."""
    return instant.astimezone(tz).date()


@dataclass(frozen=True, slots=True)
class Period:
    """A billing period: local days `[start_date, end_date)`, UTC instants `[start, end)`."""

    index: int  # 0 for the first period after the anchor; -1 for a trial
    start_date: date
    end_date: date
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days

    def contains(self, instant: datetime) -> bool:
        return self.start <= instant < self.end


@dataclass(frozen=True, slots=True)
class ContractTerm:
    """A contract as billing sees it: which local days it bills, at which charges."""

    index: int
    contract: Contract
    plan: Plan
    charges: tuple[ChargeModel, ...]
    bills_from: date  # first billed day (after the trial for a first contract)
    bills_until: date | None  # exclusive; None for open-ended or auto-renewing
    charge_names: tuple[str, ...]  # what each charge's lines are keyed by (pricing.charge_names)
    # the charges billed at the start of a period, and their names: every invoice rates them
    advance_charges: tuple[ChargeModel, ...] = ()
    advance_names: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Stable name of the contract in line keys: its start day."""
        return self.contract.starts_on.isoformat()

    def covers(self, day: date) -> bool:
        return self.bills_from <= day and (self.bills_until is None or day < self.bills_until)


@dataclass(frozen=True, slots=True)
class Segment:
    """The days of one period that one contract covers, rated on their own."""

    customer_id: str
    term: ContractTerm
    period: Period
    start_date: date
    end_date: date
    start: datetime
    end: datetime
    # the days of a whole period of this contract's own plan, which its flat fees and minimum
    # are prorated over; 0 for the period's own days (the contract's interval is the period's)
    whole_days: int = 0
    # derived from the fields above, once (`Schedule` caches its segments; every invoice
    # rating one reads them): the days covered, and what its lines' keys name (the
    # contract's start day and the period's first day)
    coverage: Coverage = field(init=False, repr=False, compare=False)
    id: SegmentId = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        covered = Coverage((self.end_date - self.start_date).days, self.whole_days or self.period.days)
        object.__setattr__(self, "coverage", covered)
        object.__setattr__(self, "id", SegmentId(self.term.contract.starts_on, self.period.start_date))


class Schedule:
    """A customer's contracts laid out as billing periods and segments."""

    @classmethod
    def of(cls, catalog: Catalog, customer_id: str) -> Schedule:
        """The customer's schedule, built once per catalog version (both are immutable)."""
        key = ("schedule", customer_id)
        schedule = catalog.derived.get(key)
        if schedule is None:
            schedule = catalog.derived[key] = cls(catalog, catalog.customer(customer_id))
        return schedule

    def __init__(self, catalog: Catalog, customer: Customer) -> None:
        self.customer = customer
        self.tz = customer.tz
        self.taxes = customer.taxes  # `(name, percent)` of its tax rates: every draft reads them
        self.terms = tuple(self._terms(catalog, customer))
        self._periods: list[Period] = []  # laid out so far, extended on demand
        self._months = 0  # from the anchor to the end of the last period laid out
        self._spans: list[tuple[int, int]] = []  # per period: months from the anchor to its start, end
        self._segments: dict[int, tuple[Segment, ...]] = {}

    @staticmethod
    def _terms(catalog: Catalog, customer: Customer) -> Iterator[ContractTerm]:
        for index, contract in enumerate(customer.contracts):
            plan = catalog.plan(contract.plan)
            charges = catalog.contract_charges(customer.id, index)
            trial = plan.trial_days if index == 0 else 0
            last = contract.last_day
            names = charge_names(charges)
            advance = [(c, name) for c, name in zip(charges, names, strict=True) if bills_in_advance(c)]
            yield ContractTerm(
                index=index,
                contract=contract,
                plan=plan,
                charges=charges,
                bills_from=contract.starts_on + timedelta(days=trial),
                bills_until=None if last is None else last + timedelta(days=1),
                charge_names=names,
                advance_charges=tuple(c for c, _ in advance),
                advance_names=tuple(name for _, name in advance),
            )

    @property
    def anchor(self) -> date | None:
        """The day periods are anchored on; None for a customer without contracts."""
        return self.terms[0].bills_from if self.terms else None

    @cached_property
    def trial(self) -> Period | None:
        """The first contract's trial stretch, which bills nothing; None without a trial."""
        if not self.terms or self.terms[0].bills_from == self.terms[0].contract.starts_on:
            return None
        start, end = self.terms[0].contract.starts_on, self.terms[0].bills_from
        return Period(-1, start, end, local_midnight(start, self.tz), local_midnight(end, self.tz))

    @property
    def bills_until(self) -> date | None:
        """The day after the last billed day; None while a contract is open-ended."""
        return self.terms[-1].bills_until if self.terms else None

    def _interval_at(self, day: date) -> int:
        current = self.terms[0]
        for term in self.terms:
            if term.contract.starts_on <= day:
                current = term
        return current.plan.interval_months

    def periods(self) -> Iterator[Period]:
        """Every period from the anchor on, without end: callers stop at the date they need.

        Periods after the last contract ends have no segments; their boundaries still close
        the last billed period and carry adjustments for usage that arrives late.
        """
        if self.anchor is None:
            return
        index = 0
        while True:
            if index == len(self._periods):
                self._periods.append(self._next_period())
            yield self._periods[index]
            index += 1

    def _next_period(self) -> Period:
        anchor = self.anchor
        assert anchor is not None
        previous = self._periods[-1] if self._periods else None
        start_date = previous.end_date if previous else anchor
        start = previous.end if previous else local_midnight(anchor, self.tz)
        # counted from the anchor itself, so a month-end anchor comes back (Jan 31, Feb 28, Mar 31)
        first = self._months
        self._months = self._period_end(anchor, start_date, first)
        self._spans.append((first, self._months))
        end_date = add_months(anchor, self._months)
        return Period(len(self._periods), start_date, end_date, start, local_midnight(end_date, self.tz))

    def _period_end(self, anchor: date, start_date: date, first: int) -> int:
        """Months from the anchor to the end of the period starting `first` months after it.

        A period lasts the interval of the contract in force on its first day, but a contract on
        a shorter interval that starts inside it (a yearly plan changed to a monthly one) ends it
        at the first of the new interval's anniversaries on or after its start: the new plan is
        billed every month from then on, not once at the end of the year."""
        end = first + self._interval_at(start_date)
        natural = add_months(anchor, end)
        for term in self.terms:
            months, day = term.plan.interval_months, term.bills_from
            if months >= end - first or not start_date < day < natural:
                continue
            cut = first + months
            while add_months(anchor, cut) < day:
                cut += months
            end = min(end, cut)
        return end

    def _whole_days(self, period: Period, term: ContractTerm, start_date: date) -> int:
        """The days of a whole period of `term`'s own interval around its part of `period`: the
        one starting with the period when the part does, else the one ending with it; 0 when
        the term's interval is the period's."""
        anchor = self.anchor
        assert anchor is not None
        first, end = self._spans[period.index]
        months = term.plan.interval_months
        if months == end - first:
            return 0
        if start_date == period.start_date:
            return (add_months(anchor, first + months) - period.start_date).days
        return (period.end_date - add_months(anchor, end - months)).days

    def period(self, index: int) -> Period | None:
        """The period with that index, None for a negative index or without contracts."""
        if 0 <= index < len(self._periods):  # laid out already: most calls
            return self._periods[index]
        if index < 0 or self.anchor is None:
            return None
        while len(self._periods) <= index:
            self._periods.append(self._next_period())
        return self._periods[index]

    def periods_until(self, instant: datetime) -> Iterator[Period]:
        """The periods that start at or before an instant."""
        for period in self.periods():
            if period.start > instant:
                return
            yield period

    def period_at(self, instant: datetime) -> Period | None:
        """The period holding an instant, None before the anchor."""
        for period in self.periods():
            if instant < period.start:
                return None
            if instant < period.end:
                return period
        return None

    def segments(self, period: Period) -> tuple[Segment, ...]:
        """The contracts' parts of a period, in contract order."""
        cached = self._segments.get(period.index)
        if cached is None:
            cached = self._segments[period.index] = self._split(period)
        return cached

    def _split(self, period: Period) -> tuple[Segment, ...]:
        parts = []
        for term in self.terms:
            start = max(period.start_date, term.bills_from)
            end = period.end_date if term.bills_until is None else min(period.end_date, term.bills_until)
            if start < end:
                parts.append(
                    Segment(
                        self.customer.id,
                        term,
                        period,
                        start,
                        end,
                        local_midnight(start, self.tz),
                        local_midnight(end, self.tz),
                        self._whole_days(period, term, start),
                    )
                )
        return tuple(parts)
