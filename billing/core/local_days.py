"""The calendar days a person reads: a period of UTC instants as the customer's local days.

Periods are stored as half-open `[start, end)` UTC instants. A person reads them as the first
and the last local day, both inclusive, in the customer's time zone: October in Paris is
`[2026-09-30T22:00Z, 2026-10-31T23:00Z)`, read "1 Oct 2026 – 31 Oct 2026". Instants written
for people or their software carry the customer's offset ("2026-10-01T00:00:00+02:00").

Templates, CLI tables and JSON documents all read days through this module, so an email, a
table and the API never disagree on which day a period starts or ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from billing.core.errors import BillingError

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DAY_RANGE = " – "  # between the first and the last day: an en dash, as SPEC §8 writes it


@dataclass(frozen=True, slots=True)
class LocalDays:
    """The local calendar days a period covers, first and last inclusive."""

    first: date
    last: date

    def __str__(self) -> str:
        return format_days(self.first, self.last)


def local_instant(instant: datetime, tz: ZoneInfo) -> datetime:
    """The same instant, written with the offset it has in `tz`."""
    if instant.tzinfo is None:
        raise BillingError(f"instant {instant.isoformat()} has no UTC offset")
    return instant.astimezone(tz)


def local_day(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar day an instant falls on (an invoice's issue date)."""
    return local_instant(instant, tz).date()


def day_before(instant: datetime, tz: ZoneInfo) -> date:
    """The local day of the last moment before an instant: the day an end (exclusive) closes.

    The step back is taken in absolute time, never on a local clock, where a skipped midnight
    (Santiago, Havana) would land it inside the next day."""
    return local_day(local_instant(instant, tz).astimezone(UTC) - timedelta(microseconds=1), tz)


def local_days(start: datetime, end: datetime, tz: ZoneInfo) -> LocalDays:
    """The local days of a half-open period `[start, end)`: the day `start` falls on, and the
    day holding the last instant before `end` (a period ending at local midnight ends on the
    day before)."""
    first = local_day(start, tz)
    last = day_before(end, tz)
    if last < first:
        raise BillingError(f"period {start.isoformat()} .. {end.isoformat()} holds no day")
    return LocalDays(first, last)


def format_day(day: date | str) -> str:
    """A day as a person reads it: `1 Oct 2026`, whatever the process locale."""
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day)
        except ValueError:
            raise BillingError(f"not a date: {day!r} (expected YYYY-MM-DD)") from None
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def format_days(first: date | str, last: date | str) -> str:
    """First and last day inclusive: `1 Oct 2026 – 31 Oct 2026`."""
    return f"{format_day(first)}{DAY_RANGE}{format_day(last)}"
