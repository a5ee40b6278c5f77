"""The lifecycle calendar: each date-kind track's next occurrence, selected by when it fires.

A daily scan over a hundred thousand contracts must not parse the catalog nor lay out a hundred
thousand schedules to find the few notices due: the calendar holds one row per track (customer,
kind, contract, offset) with its next occurrence's `fires_at` (the UTC instant of local
midnight on its first day, indexed), so the scan is one indexed query returning the rows due,
and its cost grows with them, not with the contracts held. A row holds its track whole (the
customer's zone and email, the rule for the next occurrence, the email's constant context):
deciding it and stepping it on (`advance`) need no catalog.

`rebuild_calendar` lays the calendar out again when a catalog version is saved. Each track
starts at its first occurrence still open at `scanned_through`, the latest as-of a scan decided
through, stepping past those whose key the ledger already holds: nothing a scan has not decided
is lost (a contract added or moved is decided from there), and should one be decided twice,
the send ledger's key makes it harmless (a key it holds is never sent again).

Two scans at once: each decides the rows it selected and steps a row only if it still holds
the occurrence it read (a conditional UPDATE on the old `fires_at`); the ledger key does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from billing.core.catalog import Catalog
from billing.core.lifecycle_dates import DATE_KINDS, Occurrence, Track, date_tracks
from billing.core.local_days import day_before
from billing.core.periods import Schedule, local_midnight
from billing.store.models import LifecycleCalendarRow, LifecycleCalendarState, Notification
from billing.store.types import UTCDateTime

CALENDAR = cast(sa.Table, LifecycleCalendarRow.__table__)
STATE = cast(sa.Table, LifecycleCalendarState.__table__)
STATE_ID = 1
INSERT_BATCH = 5000


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """A calendar row: a track, and the index and first instant of its next occurrence."""

    id: int
    track: Track
    position: int
    fires_at: datetime

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.track.timezone)


@dataclass(frozen=True, slots=True)
class DueEntries:
    catalog_version_id: int | None  # the version the calendar was built from; None: not built
    entries: list[CalendarEntry]


# Built once: a daily scan with nothing due is this one statement, and building and compiling it
# at each call cost as much again as the query itself (measured: 0.41 ms against 0.22 ms, the
# indexed query on a plain table of the same contracts 0.17 ms). No ORDER BY: sorted in Python.
_DUE = (
    sa.select(STATE.c.catalog_version_id, *CALENDAR.c)
    .select_from(STATE.outerjoin(CALENDAR, CALENDAR.c.fires_at < sa.bindparam("as_of", type_=UTCDateTime)))
    .where(STATE.c.id == STATE_ID)
)


def due_entries(connection: sa.Connection, as_of: datetime) -> DueEntries:
    """The rows whose occurrence has fired by `as_of` (an end: `fires_at < as_of`), with the
    calendar's version, in one indexed statement (the state row, outer-joined to the due rows)."""
    rows = connection.execute(_DUE, {"as_of": as_of}).all()
    if not rows:
        return DueEntries(None, [])
    entries = sorted((_entry(row) for row in rows if row.id is not None), key=lambda e: (e.fires_at, e.id))
    return DueEntries(rows[0].catalog_version_id, entries)


def _entry(row: sa.Row) -> CalendarEntry:  # type: ignore[type-arg]
    track = Track(
        customer_id=row.customer_id,
        recipient=row.recipient,
        timezone=row.timezone,
        kind=row.kind,
        contract_starts_on=row.contract_starts_on,
        offset=row.offset_days,
        event_on=row.event_on,
        term_months=row.term_months,
        renews_until=row.renews_until,
        context=row.context,
    )
    return CalendarEntry(row.id, track, row.position, row.fires_at)


@dataclass(frozen=True, slots=True)
class Step:
    """A decided row and the occurrence it moves on to (None: its track is done)."""

    entry: CalendarEntry
    next: Occurrence | None


def advance(connection: sa.Connection, steps: Iterable[Step]) -> int:
    """Step each row to its next occurrence, or delete it, if it still holds the occurrence the
    scan read; returns how many rows this scan moved (a concurrent scan may have moved others)."""
    moves: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    for step in steps:
        old = {"row_id": step.entry.id, "old_fires_at": step.entry.fires_at}
        if step.next is None:
            done.append(old)
        else:
            moves.append(old | {f"new_{k}": v for k, v in _placement(step.next, step.entry.tz).items()})
    moved = 0
    matches_old = sa.and_(
        CALENDAR.c.id == sa.bindparam("row_id"), CALENDAR.c.fires_at == sa.bindparam("old_fires_at")
    )
    if moves:
        values: dict[str, Any] = {
            name: sa.bindparam(f"new_{name}") for name in ("position", "fires_at", "event_at")
        }
        moved += connection.execute(sa.update(CALENDAR).where(matches_old).values(values), moves).rowcount
    if done:
        moved += connection.execute(sa.delete(CALENDAR).where(matches_old), done).rowcount
    return moved


def _placement(occurrence: Occurrence, tz: ZoneInfo) -> dict[str, object]:
    return {
        "position": occurrence.index,
        "fires_at": local_midnight(occurrence.opens_on, tz),
        "event_at": local_midnight(occurrence.event_on, tz),
    }


def mark_scanned(connection: sa.Connection, as_of: datetime) -> None:
    """Scans decided every row that fired before `as_of`: a rebuild starts from there."""
    connection.execute(
        sa.update(STATE)
        .where(
            STATE.c.id == STATE_ID,
            sa.or_(STATE.c.scanned_through.is_(None), STATE.c.scanned_through < as_of),
        )
        .values(scanned_through=as_of)
    )


def rebuild_calendar(connection: sa.Connection, catalog: Catalog, version_id: int, now: datetime) -> int:
    """Lay the calendar out again from a catalog version (the one just saved); returns its rows."""
    scanned_through = connection.execute(
        sa.select(STATE.c.scanned_through).where(STATE.c.id == STATE_ID)
    ).scalar_one_or_none()
    placed = list(_first_open(catalog, scanned_through))
    if scanned_through is not None:
        placed = _past_what_the_ledger_holds(connection, placed, scanned_through)
    connection.execute(sa.delete(CALENDAR))
    rows = [_row(track, occurrence) for track, occurrence in placed]
    for start in range(0, len(rows), INSERT_BATCH):
        connection.execute(sa.insert(CALENDAR), rows[start : start + INSERT_BATCH])
    state = {"catalog_version_id": version_id, "built_at": now}
    updated = connection.execute(sa.update(STATE).where(STATE.c.id == STATE_ID).values(state)).rowcount
    if not updated:
        connection.execute(sa.insert(STATE).values(id=STATE_ID, scanned_through=None, **state))
    return len(rows)


Placed = tuple[Track, Occurrence]


def _first_open(catalog: Catalog, scanned_through: datetime | None) -> Iterator[Placed]:
    """Each track at its first occurrence still open at `scanned_through` (None: its first)."""
    for customer in catalog.customers:
        day = None if scanned_through is None else day_before(scanned_through, customer.tz)
        for track in date_tracks(catalog, Schedule(catalog, customer)):
            occurrence = track.first_open(day)
            if occurrence is not None:
                yield track, occurrence


def _past_what_the_ledger_holds(
    connection: sa.Connection, placed: list[Placed], scanned_through: datetime
) -> list[Placed]:
    """Step a track past the occurrences a scan decided already (their key is in the ledger),
    so that a rebuild does not make the next scan list them again; any other is decided again."""
    fired = [
        i
        for i, (t, o) in enumerate(placed)
        if local_midnight(o.opens_on, ZoneInfo(t.timezone)) < scanned_through
    ]
    customers = sorted({placed[i][0].customer_id for i in fired})
    known: set[tuple[str, str, str, str]] = set()
    for start in range(0, len(customers), 500):
        rows = connection.execute(
            sa.select(
                Notification.customer_id, Notification.kind, Notification.subject, Notification.period
            ).where(
                Notification.customer_id.in_(customers[start : start + 500]),
                Notification.kind.in_(DATE_KINDS),
            )
        )
        known.update((r.customer_id, r.kind, r.subject, r.period) for r in rows)
    kept: list[tuple[Track, Occurrence | None]] = list(placed)
    for i in fired:
        track, occurrence = placed[i]
        current: Occurrence | None = occurrence
        while current is not None and (track.customer_id, track.kind, track.subject, current.period) in known:
            current = track.occurrence(current.index + 1)
        kept[i] = (track, current)
    return [(t, o) for t, o in kept if o is not None]


def _row(track: Track, occurrence: Occurrence) -> dict[str, object]:
    return {
        "customer_id": track.customer_id,
        "kind": track.kind,
        "contract_starts_on": track.contract_starts_on,
        "offset_days": track.offset,
        "event_on": track.event_on,
        "term_months": track.term_months,
        "renews_until": track.renews_until,
        "timezone": track.timezone,
        "recipient": track.recipient,
        "context": dict(track.context or {}),
        **_placement(occurrence, ZoneInfo(track.timezone)),
    }
