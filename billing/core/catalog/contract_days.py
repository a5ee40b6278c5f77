"""How far a contract's days may reach: every day billing and the lifecycle scan compute from
them (the day after the last billed day, the end of a term, a renewal) must be a date.

`ends_on: 9999-12-31` (the usual "forever" of other systems) or a `term_months` of a million
would otherwise pass `catalog check` and fail `catalog load` with an overflow: they are refused
with the field and its value, like any other bad catalog value. The last day allowed is the
last `--as-of` day (`billing.core.as_of.LATEST`), which leaves room for a period after it.
"""

from __future__ import annotations

from datetime import date

from dateutil.relativedelta import relativedelta

from billing.core.as_of import LATEST

OPEN_ENDED = "leave ends_on out (or null) for a contract without an end"


def months_after(day: date, months: int) -> date | None:
    """The anniversary `months` after `day` (clipped to a shorter month's last day, as periods
    are); None when it is past the last date there is."""
    try:
        return day + relativedelta(months=months)
    except (ValueError, OverflowError):
        return None


def contract_day_problem(starts_on: date, ends_on: date | None, term_months: int | None) -> str | None:
    """Why a contract's days reach past `LATEST`, or None."""
    if starts_on > LATEST:
        return f"starts_on {starts_on} is after {LATEST}, the last day billing reaches"
    if ends_on is not None and ends_on > LATEST:
        return f"ends_on {ends_on} is after {LATEST}, the last day billing reaches: {OPEN_ENDED}"
    if term_months is not None:
        term_end = months_after(starts_on, term_months)
        if term_end is None or term_end > LATEST:
            return (
                f"term_months {term_months} from starts_on {starts_on} ends after {LATEST}, "
                "the last day billing reaches"
            )
    return None


def trial_day_problem(starts_on: date, trial_days: int) -> str | None:
    """Why a first contract's trial ends past `LATEST`, or None."""
    if trial_days <= (LATEST - starts_on).days:
        return None
    return (
        f"its plan's {trial_days}-day trial from starts_on {starts_on} ends after {LATEST}, "
        "the last day billing reaches"
    )
