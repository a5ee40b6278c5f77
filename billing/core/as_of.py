"""Reading "as of" parameters: a date means the end of that day in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from billing.core.errors import BillingError

EARLIEST = date(2000, 1, 1)  # no usage is billed before (SPEC: older events are quarantined)
LATEST = date(9998, 12, 31)  # leaves room for a period and its grace after it


def as_of_instant(value: date | datetime | str | None, now: datetime) -> datetime:
    """None is now; a date is the end of that day (UTC); a datetime must carry its offset."""
    if value is None:
        return now
    if isinstance(value, str):
        value = parse_as_of(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise BillingError(f"as-of {value.isoformat()} needs a UTC offset, e.g. 2026-11-02T00:00:00Z")
        _check_range(value.date(), value.isoformat())
        return value.astimezone(UTC)
    _check_range(value, value.isoformat())
    return datetime.combine(value + timedelta(days=1), time(), UTC)


def parse_as_of(text: str) -> date | datetime:
    """`2026-11-02` or `2026-11-02T09:00:00+01:00`; a clear error otherwise. A text without a
    time of day is a date, whichever ISO 8601 spelling it takes (`20261102` too)."""
    text = text.strip()
    try:
        has_time = "T" in text.upper() or " " in text
        parsed = datetime.fromisoformat(text) if has_time else date.fromisoformat(text)
    except ValueError:
        raise BillingError(f"not a date: {text!r} (expected YYYY-MM-DD or an ISO 8601 datetime)") from None
    _check_range(parsed if not isinstance(parsed, datetime) else parsed.date(), text)
    return parsed


def _check_range(day: date, text: str) -> None:
    if not EARLIEST <= day <= LATEST:
        raise BillingError(f"as-of {text!r} is out of range: use a date from {EARLIEST} to {LATEST}")


def check_issuable(as_of: datetime, now: datetime, dry_run: bool) -> None:
    """Invoices are final: they are issued only for periods that have ended, a dry run aside."""
    if as_of > now and not dry_run:
        raise BillingError(
            f"as-of {as_of.isoformat()} is in the future: invoices can only be issued for periods "
            "that have ended (add --dry-run to see what they would bill)"
        )
