"""Which lifecycle reminders are due at an instant: pure, so the scan can run as often as it likes.

Each customer is judged on its own calendar day at the scan's instant: at 20:00 UTC it is
already tomorrow in Kolkata and still today in Los Angeles, and a reminder lands on the day the
customer lives, not on the UTC date.

Each reminder carries the ledger key `(customer, kind, subject, period)`; the send ledger makes
sure each key is emailed once, however often or concurrently the scan runs. The date kinds are
laid out in `lifecycle_dates` (tracks of occurrences) and decided in `lifecycle_catch_up` (due
or skipped, for a scan that missed days).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from billing.core.catalog import Customer
from billing.core.local_days import day_before


@dataclass(frozen=True, slots=True)
class Reminder:
    customer_id: str
    kind: str
    subject: str  # what it is about, e.g. "contract/2026-01-15" or an invoice number
    period: str  # which occurrence, e.g. the day the trial ends
    recipient: str
    context: dict[str, Any] = field(default_factory=dict)  # JSON-able, rendered into the email
    on: date | None = None  # the customer's local day the scan found it due on

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.customer_id}/{self.subject}/{self.period}"


def customer_day(customer: Customer, as_of: datetime) -> date:
    """The customer's calendar day at a scan's as-of instant.

    An as-of is an end, as everywhere (a date means the end of that day, UTC): the day is the
    one in progress just before the instant, so `--as-of 2026-03-10` is 10 March for a UTC
    customer, 11 March in Kolkata (05:29 there) and 10 March in Los Angeles (15:59)."""
    return day_before(as_of, customer.tz)
