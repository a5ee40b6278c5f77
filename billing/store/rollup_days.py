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

The rollup writer (`billing.store.rollups`) rebuilds the days its events touched, from the
buckets it has just written, in the same transaction and under the billing lock: a day row is
by construction the merge of its buckets, on every write path (ingest, a catalog building the
rollups of a new definition from the stored events, late events). Freshness is the 15-minute
tier's (`rollups.fresh_signatures`): both are written together.
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


def postgres_rebuild(signature: str, aggregation: str, touched: str) -> str:
    """The statement rewriting, from the 15-minute buckets, the day rows of `signature` (an SQL
    literal) for the (customer_id, day) pairs the query `touched` gives."""
    value, latest_at, latest_id = _postgres_merged(aggregation)
    return f"""
INSERT INTO usage_rollup_days AS d (customer_id, signature, day, events, value, latest_at, latest_id)
SELECT r.customer_id, r.signature, t.day, sum(r.events), {value}, {latest_at}, {latest_id}
FROM ({touched}) t
JOIN usage_rollups r ON r.customer_id = t.customer_id AND r.signature = {signature}
 AND r.bucket >= t.day AND r.bucket < t.day + INTERVAL '24 hours'
GROUP BY r.customer_id, r.signature, t.day
ON CONFLICT (customer_id, signature, day) DO UPDATE SET events = excluded.events, value = excluded.value,
    latest_at = excluded.latest_at, latest_id = excluded.latest_id"""


def postgres_touched(where: str) -> str:
    """The (customer_id, day) pairs of the events `where` selects (`events e`)."""
    return (
        f"SELECT DISTINCT e.customer_id, date_bin('24 hours', e.\"timestamp\", {_PG_ORIGIN}) AS day "
        f"FROM events e WHERE {where}"
    )


def _postgres_merged(aggregation: str) -> tuple[str, str, str]:
    if aggregation == "sum":
        return "sum(r.value)", "NULL", "NULL"
    if aggregation == "max":
        return "max(r.value)", "NULL", "NULL"
    if aggregation == "latest":
        order = "ORDER BY r.latest_at DESC, r.latest_id DESC) FILTER (WHERE r.value IS NOT NULL))[1]"
        return (
            f"(array_agg(r.value {order}",
            f"(array_agg(r.latest_at {order}",
            f"(array_agg(r.latest_id {order}",
        )
    return "NULL", "NULL", "NULL"


def sqlite_day(instant: str) -> str:
    """The UTC day of an instant kept as SQLite text, as the same fixed-width text."""
    return f"substr({instant}, 1, 10) || '{_SQLITE_MIDNIGHT}'"


def sqlite_rebuild(signature: str, merged: tuple[str, str, str], touched: str) -> str:
    """`postgres_rebuild` on SQLite: `merged` are the writer's expressions merging bucket rows'
    `value`, `latest_at`, `latest_id` (its exact `billing_*` aggregates); `touched` a query of
    (customer_id, day text) pairs."""
    value, latest_at, latest_id = merged
    return f"""
INSERT OR REPLACE INTO usage_rollup_days (customer_id, signature, day, events, value, latest_at, latest_id)
SELECT customer_id, {signature}, {sqlite_day("bucket")}, sum(events), {value}, {latest_at}, {latest_id}
FROM usage_rollups
WHERE signature = {signature} AND (customer_id, {sqlite_day("bucket")}) IN ({touched})
GROUP BY customer_id, {sqlite_day("bucket")}"""


def sqlite_touched(fresh: str) -> str:
    day = sqlite_day('e."timestamp"')
    return f"SELECT DISTINCT e.customer_id, {day} FROM events e WHERE {fresh}"


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
