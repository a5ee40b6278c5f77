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


@dataclass(frozen=True, slots=True)
class Decision:
    reminder: Reminder
    skipped: bool

    @property
    def reason(self) -> str | None:
        """Why a skipped notice is not sent (one text per case, so that they group)."""
        if not self.skipped:
            return None
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


def due_on(tracks: Iterable[Track], on: date) -> list[Reminder]:
    """Every notice whose window holds `on`, whatever was decided before (a stateless view)."""
    due: list[Reminder] = []
    for track in tracks:
        for occurrence in track.occurrences():
            if occurrence.opens_on > on:
                break
            if on < occurrence.closes_on:
                due.append(occurrence.reminder(on))
    return due


def due_reminders(catalog: Catalog, as_of: datetime) -> list[Reminder]:
    """Every date-kind notice due at an instant, each customer on its own calendar day."""
    reminders: list[Reminder] = []
    for customer in catalog.customers:
        schedule = Schedule(catalog, customer)
        reminders += due_on(date_tracks(catalog, schedule), customer_day(customer, as_of))
    return reminders
