"""Putting the lifecycle reminders due at an instant into the send ledger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.core.lifecycle import Reminder, due_reminders
from billing.store import send_ledger


@dataclass
class ScanReport:
    as_of: datetime  # each customer was judged on its own local day at this instant
    due: list[Reminder] = field(default_factory=list)
    new: int = 0  # reminders the ledger did not hold yet
    dry_run: bool = False


def scan_reminders(
    engine: Engine,
    catalog: Catalog,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> ScanReport:
    """Enqueue every reminder due at `as_of` on `channels`; a dry run only tells which ones
    would be new."""
    due = due_reminders(catalog, as_of)
    report = ScanReport(as_of, due, dry_run=dry_run)
    with engine.begin() as connection:
        if dry_run:
            report.new = len(due) - len(send_ledger.already_recorded(connection, due))
        else:
            report.new = send_ledger.enqueue(connection, due, now, channels)
    return report
