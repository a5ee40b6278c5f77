"""What one customer's console shows (SPEC §8), as plain typed values.

`billing.services.console` fills a `ConsolePage`; `billing.views.console_page` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from billing.core.invoicing import Invoice
from billing.core.usage_so_far import CustomerUsage


@dataclass(frozen=True, slots=True)
class UpcomingDate:
    kind: str  # trial_end | renewal | contract_end
    on: date  # the customer's local day: the trial's last day, the renewal's first, the last billed day


@dataclass(frozen=True, slots=True)
class RecentNotification:
    kind: str  # a notification kind (SPEC §9)
    status: str  # pending | sent | failed | skipped
    on: date  # the customer's local day it was recorded


@dataclass(frozen=True, slots=True)
class ConsolePage:
    customer_id: str
    customer_name: str
    currency: str
    today: date
    usage: CustomerUsage
    invoices: tuple[Invoice, ...]  # newest first
    upcoming: tuple[UpcomingDate, ...]  # soonest first
    notifications: tuple[RecentNotification, ...]  # newest first
