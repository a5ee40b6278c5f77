"""Which invoices are due, and the one generator that drafts them in order.

Invoice runs, previews and backfills ask the same questions: which boundaries still need an
invoice, which earlier periods hold usage that arrived after they were invoiced, which segments
must be metered for that. `plan_invoices` answers them from a customer's `BillingState` (what
finalized invoices billed); `draft_invoices` then drafts each due invoice with
`billing.core.invoicing.draft_invoice`, folding every invoice that becomes final into the state
before drafting the next, exactly as the store will see them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from billing.core.catalog import Catalog
from billing.core.invoicing import (
    NOTHING_BILLED,
    Billed,
    InvoiceDraft,
    UsageBySegment,
    draft_invoice,
    usage_segments,
)
from billing.core.line_keys import LineKey
from billing.core.money import ZERO
from billing.core.periods import Schedule, Segment
from billing.core.rating import InvoiceLine, PricedLines


@dataclass
class BillingState:
    """What a customer's finalized invoices already billed, and what is still open."""

    last_finalized: int = -1  # boundary index of the latest finalized invoice
    billed: dict[LineKey, Billed] = field(default_factory=dict)
    credits_used: dict[str, Decimal] = field(default_factory=dict)
    drafts: dict[int, int] = field(default_factory=dict)  # boundary -> stored draft's id
    late_first: datetime | None = None  # earliest usage awaiting an adjustment
    late_last: datetime | None = None
    late_max_id: int = 0  # the newest such event's id: finalizing clears up to it
    corrections: list[InvoiceLine] = field(default_factory=list)  # a backfill's, not invoiced yet
    corrections_max_id: int = 0  # the newest such correction's id: finalizing invoices up to it

    def record(self, draft: InvoiceDraft) -> None:
        """Fold a finalized invoice into the state, as the next invoice must see it; it
        carried the pending corrections."""
        billed = self.billed
        for lines in (draft.lines, draft.remainder):  # the remainder's credit note is billed too
            for line in lines:
                billed[line.key] = billed.get(line.key, NOTHING_BILLED).plus(line)
        for key, amount in draft.credits:
            self.credits_used[key] = self.credits_used.get(key, ZERO) + amount
        self.last_finalized = draft.boundary
        self.late_first = self.late_last = None
        self.corrections = []


def late_periods(schedule: Schedule, state: BillingState) -> tuple[int, ...]:
    """Periods holding usage that arrived after they were invoiced."""
    if state.late_first is None or state.late_last is None:
        return ()
    first = schedule.period_at(state.late_first)
    last = schedule.period_at(state.late_last)
    if last is None:  # all of it before the anchor: trial usage, billed never
        return ()
    start = first.index if first is not None else 0
    return tuple(range(start, last.index + 1))


@dataclass(frozen=True, slots=True)
class InvoicePlan:
    """The boundaries whose invoices are due, in order; late periods ride on the first."""

    boundaries: tuple[int, ...]
    late: tuple[int, ...] = ()

    def late_at(self, position: int) -> tuple[int, ...]:
        return self.late if position == 0 else ()

    def segments(self, schedule: Schedule) -> list[Segment]:
        """The segments these invoices need metered, each once."""
        found: dict[tuple[datetime, datetime], Segment] = {}
        for position, boundary in enumerate(self.boundaries):
            for segment in usage_segments(schedule, boundary, self.late_at(position)):
                found.setdefault((segment.start, segment.end), segment)
        return list(found.values())


def plan_invoices(schedule: Schedule, state: BillingState, as_of: datetime) -> InvoicePlan:
    """Boundaries up to `as_of` with no finalized invoice; once the contracts have ended, none
    after the one closing the last billed period, but the next one when usage arrives late or
    a correction waits."""
    late = late_periods(schedule, state)
    due = []
    last = schedule.bills_until
    for period in schedule.periods_until(as_of):
        if period.index > state.last_finalized:
            due.append(period.index)
        closes_the_last = last is not None and period.start_date >= last
        waiting = late or state.corrections  # late usage and corrections ride on the next boundary
        if closes_the_last and (due or not waiting):
            break
    return InvoicePlan(tuple(due), late)


def plan_through(schedule: Schedule, state: BillingState, boundary: int) -> InvoicePlan:
    """Every invoice still open up to and including the one at `boundary` (a preview's: the
    invoice that closes the current period), as the invoice runs will issue them."""
    first = max(state.last_finalized + 1, 0)
    return InvoicePlan((*range(first, boundary), boundary), late_periods(schedule, state))


def draft_invoices(
    catalog: Catalog,
    schedule: Schedule,
    plan: InvoicePlan,
    usage: UsageBySegment,
    state: BillingState,
    *,
    final: Callable[[InvoiceDraft], bool],
    memo: PricedLines | None = None,
) -> Iterator[tuple[int, InvoiceDraft | None]]:
    """Each due boundary with its draft (None: nothing to bill), in order. A draft that
    `final` accepts is folded into `state` before the next is drafted; the first that it does
    not accept ends the plan, since a later invoice waits until this one is final."""
    for position, boundary in enumerate(plan.boundaries):
        draft = draft_invoice(
            catalog,
            schedule,
            boundary,
            usage,
            state.billed,
            state.credits_used,
            plan.late_at(position),
            memo,
            state.corrections,
        )
        yield boundary, draft
        if draft is None:
            continue
        if not final(draft):
            return
        state.record(draft)
