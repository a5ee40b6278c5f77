"""The day tier of the usage rollups: one row per customer, metric definition and UTC day.

A billing period of a month holds some 2,900 quarter-hours per metric: summing them was most of
a preview's database time, and it grew with the days of the period. `usage_rollup_days`
(migration 0017) keeps, per (customer, signature, UTC day), what the 15-minute tier keeps per
bucket, merged over the day's buckets as the core merges accumulators: the events, the exact
sum, the greatest value, the latest value with its (timestamp, transaction_id).

A segment (customers' local midnights lie on the 15-minute grid, not on UTC days) is read as
its whole UTC days from this tier and its edge quarter-hours, before the first UTC midnight in
it and after the last, from the 15-minute tier (`split`): at most 2 × 95 buckets and a row per
day, however long the period.

The rollup writer (`billing.store.rollups`) merges the new events' aggregates into their days
as into their buckets, by the same statement over the same events, in the same transaction and
under the billing lock, on every write path (ingest, a catalog building the rollups of a new
definition from the stored events, late events). Events are append-only (migration 0016) and
every aggregation kept here is a merge of accumulators (counts and sums add, the greatest value
stays, the latest is the greater (timestamp, transaction_id)), so a day row is the merge of its
buckets whatever the order and grouping of the chunks that built them, at a cost that grows
with the chunk, not with what the day already holds (it was rebuilt from up to 96 buckets
before). Freshness is the 15-minute tier's (`rollups.fresh_signatures`): both are written
together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

DAY = timedelta(days=1)
_PG_ORIGIN = "TIMESTAMPTZ '2000-01-01 00:00:00+00'"
_SQLITE_MIDNIGHT = " 00:00:00.000000"


@dataclass(frozen=True, slots=True)
class Split:
    """A segment [start, end) as whole UTC days [first_day, last_day) and the edges around."""

    start: datetime
    first_day: datetime
    last_day: datetime
    end: datetime


def split(start: datetime, end: datetime) -> Split | None:
    """The whole UTC days inside [start, end), or None when it holds none."""
    utc_start, utc_end = start.astimezone(UTC), end.astimezone(UTC)
    first = utc_start.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < utc_start:
        first += DAY
    last = utc_end.replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        return None
    return Split(utc_start, first, last, utc_end)


def postgres_day(instant: str) -> str:
    """The UTC day of a `timestamptz` expression."""
    return f"date_bin('24 hours', {instant}, {_PG_ORIGIN})"


def sqlite_day(instant: str) -> str:
    """The UTC day of an instant kept as SQLite text, as the same fixed-width text."""
    return f"substr({instant}, 1, 10) || '{_SQLITE_MIDNIGHT}'"


@dataclass(frozen=True, slots=True)
class DayPiece:
    """The part [lo, hi) of local day number `day` (from 1) lying in the UTC day `utc_day`;
    `whole` when it is all of that UTC day."""

    day: int
    utc_day: datetime
    lo: datetime
    hi: datetime

    @property
    def whole(self) -> bool:
        return self.lo == self.utc_day and self.hi == self.utc_day + DAY

    @property
    def inside(self) -> bool:
        """Touching neither midnight of its UTC day."""
        return self.lo > self.utc_day and self.hi < self.utc_day + DAY


def day_pieces(edges: Sequence[datetime]) -> list[DayPiece]:
    """Each day [edges[i], edges[i + 1]) cut at the UTC midnights inside it: a UTC customer's
    local day is one whole UTC day, a +05:45 one's the end of one UTC day and the start of the
    next, a DST day of 25 hours may touch three."""
    pieces = []
    for number, (start, end) in enumerate(pairwise(edges), start=1):
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        utc_day = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while utc_day < end:
            pieces.append(DayPiece(number, utc_day, max(start, utc_day), min(end, utc_day + DAY)))
            utc_day += DAY
    return pieces
