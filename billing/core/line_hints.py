"""Which charge each usage line of a period bills: what a preview's `hint` is computed from."""

from __future__ import annotations

from billing.core.line_keys import LineKey
from billing.core.periods import Period, Schedule
from billing.core.pricing import ChargeModel


def usage_charges(schedule: Schedule, period: Period) -> dict[LineKey, ChargeModel]:
    """The usage charges of each segment of `period`, by the key of the line they bill."""
    return {
        LineKey.of(segment.id, name): charge
        for segment in schedule.segments(period)
        for charge, name in zip(segment.term.charges, segment.term.charge_names, strict=True)
        if charge.usage_based
    }
