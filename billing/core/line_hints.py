"""Which charge each usage line of a period bills, and where its quantity sits in that charge's
price bands: the one computation behind a preview's `hint` and the console's tier position."""

from __future__ import annotations

from collections.abc import Iterable

from billing.core.line_keys import LineKey
from billing.core.periods import Period, Schedule
from billing.core.pricing import ChargeModel
from billing.core.pricing.base import TierHint
from billing.core.rating import InvoiceLine


def usage_charges(schedule: Schedule, period: Period) -> dict[LineKey, ChargeModel]:
    """The usage charges of each segment of `period`, by the key of the line they bill."""
    return {
        LineKey.of(segment.id, name): charge
        for segment in schedule.segments(period)
        for charge, name in zip(segment.term.charges, segment.term.charge_names, strict=True)
        if charge.usage_based
    }


def line_hints(schedule: Schedule, period: Period, lines: Iterable[InvoiceLine]) -> dict[LineKey, TierHint]:
    """Each usage line of `period` among `lines` (an invoice's), by its key: its charge's hint
    at the line's quantity. Lines of another period (an earlier one's late usage, a next
    period's fee) and lines without usage have none."""
    charges = usage_charges(schedule, period)
    hints: dict[LineKey, TierHint] = {}
    for line in lines:
        charge = charges.get(line.key)
        hint = None if line.kind != "usage" or charge is None else charge.hint(line.quantity)
        if hint is not None:
            hints[line.key] = hint
    return hints
