"""The lifecycle scan: decide the date-kind notices that fell due by an instant, put them in the
send ledger, and step the calendar on.

The calendar (`store/lifecycle_calendar.py`) names the rows that fired by the as-of in one
indexed query, so a scan with nothing due costs that query and nothing else: no catalog is
parsed, no schedule laid out. Each row is decided on its customer's own day at the as-of
(`core/lifecycle_catch_up.py`): due ones are enqueued, late ones recorded as skipped, and the
row moves to its track's next occurrence, all in one transaction. A dry run decides the same
and writes nothing, not even the calendar's step.

The calendar is the active catalog version's. A scan pinned to another version (a catalog
loaded between the flow's start and this task) decides from that version's catalog instead,
statelessly: what is due on each customer's day, enqueued through the same keys; the calendar
is left for the next scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.core.lifecycle import Reminder
from billing.core.lifecycle_catch_up import Decision, catch_up, due_reminders, nearest_only
from billing.core.local_days import day_before
from billing.store import send_ledger
from billing.store.catalog_versions import catalog_version
from billing.store.database import lock_billing
from billing.store.lifecycle_calendar import (
    CalendarEntry,
    DueEntries,
    Step,
    advance,
    due_entries,
    mark_scanned,
    rebuild_calendar,
)


@dataclass
class ScanReport:
    as_of: datetime  # each customer was judged on its own local day at this instant
    due: list[Reminder] = field(default_factory=list)
    skipped: list[Reminder] = field(default_factory=list)  # too late: recorded, never sent
    new: int = 0  # due reminders the ledger did not hold yet
    new_skipped: int = 0
    dry_run: bool = False
    from_calendar: bool = True  # False: decided from a pinned version the calendar is not of


def scan_reminders(
    engine: Engine,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    catalog_version_id: int,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> ScanReport:
    """Decide what fell due by `as_of`; enqueue on `channels` and step the calendar unless it
    is a dry run."""
    with engine.connect() as connection:
        found = due_entries(connection, as_of)
        if found.catalog_version_id is None and not dry_run:
            found = _build_calendar(connection, catalog_version_id, as_of, now)
        if found.catalog_version_id != catalog_version_id:
            report = _from_catalog(connection, catalog_version_id, as_of, now, dry_run, channels)
        else:
            report = _from_calendar(connection, found, as_of, now, dry_run, channels)
        if not dry_run:
            connection.commit()
    report.due.sort(key=_reading_order)
    report.skipped.sort(key=_reading_order)
    return report


def _from_calendar(
    connection: sa.Connection,
    found: DueEntries,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    channels: Sequence[str],
) -> ScanReport:
    decisions, steps = decide_entries(found.entries, as_of)
    decisions = nearest_only(decisions)
    due = [d.reminder for d in decisions if not d.skipped]
    skipped = [d for d in decisions if d.skipped]
    report = ScanReport(as_of, due, [d.reminder for d in skipped], dry_run=dry_run)
    if dry_run:
        report.new = _not_recorded(connection, due)
        report.new_skipped = _not_recorded(connection, report.skipped)
        return report
    report.new = send_ledger.enqueue(connection, due, now, channels)
    skipped.sort(key=lambda d: d.reason or "")
    for reason, group in groupby(skipped, key=lambda d: d.reason or ""):
        report.new_skipped += send_ledger.record_skipped(connection, [d.reminder for d in group], now, reason)
    if steps:
        advance(connection, steps)
        mark_scanned(connection, as_of)
    return report


def decide_entries(entries: list[CalendarEntry], as_of: datetime) -> tuple[list[Decision], list[Step]]:
    """Every occurrence of these rows that opened by each customer's day at `as_of`, decided,
    and where each row goes next (a renewal track after a long gap decides every term it missed)."""
    decisions: list[Decision] = []
    steps: list[Step] = []
    for entry in entries:
        caught_up = catch_up(entry.track, entry.position, day_before(as_of, entry.tz))
        decisions += caught_up.decisions
        steps.append(Step(entry, caught_up.next))
    return decisions, steps


def _build_calendar(connection: sa.Connection, version_id: int, as_of: datetime, now: datetime) -> DueEntries:
    """No calendar yet (a database migrated with its catalog already loaded): lay it out from
    the pinned version once, under the lock catalog loads take, and read the due rows again."""
    lock_billing(connection)
    found = due_entries(connection, as_of)
    if found.catalog_version_id is None:
        stored = catalog_version(connection, version_id)
        rebuild_calendar(connection, stored.catalog, stored.id, now)
        found = due_entries(connection, as_of)
    return found


def _from_catalog(
    connection: sa.Connection,
    version_id: int,
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    channels: Sequence[str],
) -> ScanReport:
    due = due_reminders(catalog_version(connection, version_id).catalog, as_of)
    report = ScanReport(as_of, due, dry_run=dry_run, from_calendar=False)
    if dry_run:
        report.new = _not_recorded(connection, due)
    else:
        report.new = send_ledger.enqueue(connection, due, now, channels)
    return report


def _not_recorded(connection: sa.Connection, reminders: list[Reminder]) -> int:
    return len(reminders) - len(send_ledger.already_recorded(connection, reminders))


def _reading_order(reminder: Reminder) -> tuple[str, str, str, str]:
    day = reminder.on.isoformat() if reminder.on else ""
    return (reminder.customer_id, day, reminder.kind, reminder.period)
