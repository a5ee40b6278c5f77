"""Due or skipped: what a scan on a customer's day decides about the occurrences it finds.

A scan that missed days (the worker was down) catches up (SPEC §9): an occurrence whose day has
come and whose window is still open is due, sent once, late; one whose window closed (the event
happened, or an announcement is over `ANNOUNCEMENT_DAYS` old) is recorded as skipped, never
sent. `catch_up` steps a track through every occurrence that opened by that day, so a scan
after a year away decides each one the daily scans would have, and loses none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from billing.core.catalog import Catalog
from billing.core.lifecycle import Reminder, customer_day
from billing.core.lifecycle_dates import ANNOUNCEMENT_DAYS, Occurrence, Track, date_tracks
from billing.core.periods import Schedule

LATE_REMINDER = "too late: the scan came on or after the day it was about"
LATE_ANNOUNCEMENT = f"too late: the scan came more than {ANNOUNCEMENT_DAYS} days after it"
SUPERSEDED = "superseded: a nearer reminder of the same event was due in the same scan"


@dataclass(frozen=True, slots=True)
class Decision:
    reminder: Reminder
    skipped: bool
    superseded: bool = False

    @property
    def reason(self) -> str | None:
        """Why a skipped notice is not sent (one text per case, so that they group)."""
        if not self.skipped:
            return None
        if self.superseded:
            return SUPERSEDED
        return LATE_REMINDER if self.reminder.kind.endswith(("_ending", "_upcoming")) else LATE_ANNOUNCEMENT


def decide(occurrence: Occurrence, on: date) -> Decision:
    """An occurrence that opened by `on`: due while its window is open, skipped after."""
    if on < occurrence.opens_on:
        raise ValueError(f"{occurrence.track.kind} opens on {occurrence.opens_on}, not by {on}")
    return Decision(occurrence.reminder(on), skipped=on >= occurrence.closes_on)


@dataclass(frozen=True, slots=True)
class CatchUp:
    decisions: list[Decision]
    next: Occurrence | None  # the track's first occurrence after `on`; None: the track is done


def catch_up(track: Track, start: int, on: date) -> CatchUp:
    """Decide every occurrence of `track` from index `start` that opened by `on`."""
    decisions: list[Decision] = []
    for occurrence in track.occurrences(start):
        if occurrence.opens_on > on:
            return CatchUp(decisions, occurrence)
        decisions.append(decide(occurrence, on))
    return CatchUp(decisions, None)


def _offset_group(reminder: Reminder) -> tuple[tuple[str, str, str, str], int] | None:
    """(the event a reminder is about, its offset in days) for a reminder with an offset."""
    event, _, offset = reminder.period.rpartition("/")
    if not event or not offset.endswith("d"):
        return None
    return (reminder.customer_id, reminder.kind, reminder.subject, event), int(offset[:-1])


def nearest_only(decisions: list[Decision]) -> list[Decision]:
    """A scan that finds several reminders of one event due at once (it came late, past the
    30-day one into the 7-day one's window) sends the nearest, as a daily scan would have on
    that day; the earlier ones are recorded as superseded, never sent."""
    nearest: dict[tuple[str, str, str, str], int] = {}
    for decision in decisions:
        found = None if decision.skipped else _offset_group(decision.reminder)
        if found is not None:
            group, offset = found
            nearest[group] = min(offset, nearest.get(group, offset))
    kept = []
    for decision in decisions:
        found = None if decision.skipped else _offset_group(decision.reminder)
        if found is not None and nearest[found[0]] != found[1]:
            decision = Decision(decision.reminder, skipped=True, superseded=True)
        kept.append(decision)
    return kept


def due_on(tracks: Iterable[Track], on: date) -> list[Reminder]:
    """Every notice whose window holds `on`, whatever was decided before (a stateless view)."""
    due: list[Reminder] = []
    for track in tracks:
        for occurrence in track.occurrences():
            if occurrence.opens_on > on:
                break
            if on < occurrence.closes_on:
                due.append(occurrence.reminder(on))
    decided = nearest_only([Decision(reminder, skipped=False) for reminder in due])
    return [d.reminder for d in decided if not d.skipped]


def due_reminders(catalog: Catalog, as_of: datetime) -> list[Reminder]:
    """Every date-kind notice due at an instant, each customer on its own calendar day."""
    reminders: list[Reminder] = []
    for customer in catalog.customers:
        schedule = Schedule(catalog, customer)
        reminders += due_on(date_tracks(catalog, schedule), customer_day(customer, as_of))
    return reminders
