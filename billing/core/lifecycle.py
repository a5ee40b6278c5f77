"""Which lifecycle reminders are due at an instant: pure, so the scan can run as often as it likes.

Each customer is judged on its own calendar day at the scan's instant: at 20:00 UTC it is
already tomorrow in Kolkata and still today in Los Angeles, and a reminder lands on the day the
customer lives, not on the UTC date.

Each reminder carries the ledger key `(customer, kind, subject, period)`; the send ledger makes
sure each key is emailed once, however often or concurrently the scan runs. A reminder stays
due for its whole window (a trial-ending notice from N days before the end until the end), so a
scan that missed a day still sends it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from billing.core.catalog import Catalog, Customer
from billing.core.local_days import day_before
from billing.core.money import ZERO, display_amount
from billing.core.periods import Schedule
from billing.core.pricing.flat import FlatCharge

TRIAL_ENDING_DAYS = 3


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


def trial_ending(catalog: Catalog, schedule: Schedule, on: date, days: int) -> list[Reminder]:
    """A trial ends within `days` days: tell the customer what will be billed and when."""
    trial = schedule.trial
    if trial is None or not (trial.end_date - timedelta(days=days) <= on < trial.end_date):
        return []
    term = schedule.terms[0]
    customer = schedule.customer
    fees = [c.amount for c in term.charges if isinstance(c, FlatCharge)]
    return [
        Reminder(
            customer_id=customer.id,
            kind="trial_ending",
            subject=f"contract/{term.key}",
            period=trial.end_date.isoformat(),
            recipient=customer.email,
            context={
                "customer_name": customer.display_name,
                "plan_name": term.plan.label,
                "trial_ends_on": trial.end_date.isoformat(),
                "days_left": (trial.end_date - on).days,
                "recurring_fee": display_amount(sum(fees, ZERO), catalog.currency) if fees else None,
            },
            on=on,
        )
    ]


def customer_day(customer: Customer, as_of: datetime) -> date:
    """The customer's calendar day at a scan's as-of instant.

    An as-of is an end, as everywhere (a date means the end of that day, UTC): the day is the
    one in progress just before the instant, so `--as-of 2026-03-10` is 10 March for a UTC
    customer, 11 March in Kolkata (05:29 there) and 10 March in Los Angeles (15:59)."""
    return day_before(as_of, customer.tz)


def due_reminders(
    catalog: Catalog, as_of: datetime, trial_ending_days: int = TRIAL_ENDING_DAYS
) -> list[Reminder]:
    """Every reminder due at an instant, each customer on its own calendar day."""
    reminders: list[Reminder] = []
    for customer in catalog.customers:
        schedule = Schedule(catalog, customer)
        reminders += trial_ending(catalog, schedule, customer_day(customer, as_of), trial_ending_days)
    return reminders
