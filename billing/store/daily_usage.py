"""A customer's usage per local day, every metric of a run of consecutive days in one statement.

The console and `GET /v1/customers/{id}/usage` draw each metric's quantity of each local day of
the period so far. Reading each day as its own segment (`metering_sql.meter_segments`) made
PostgreSQL join every 15-minute bucket of the period to every day, casting each day's bounds
from text for every pair (28 days x 13,000 bucket rows), then sort them all by day: 2 s at
1,000,000 events. Here the days are one list of instants, `edges`: day i is
[edges[i], edges[i + 1]), each a local midnight computed by zoneinfo (a DST day is 23 or 25
hours, a +05:45 zone's midnight is 18:15 UTC: every one is a bucket edge), so PostgreSQL's own
time zone database is never asked. Each day is cut at the UTC midnights inside it
(`rollup_days.day_pieces`, a VALUES list in the statement), and every metric of every day is
read in one statement:

- count, sum, max, latest: a piece that is a whole UTC day (a UTC customer's every day) is one
  row per metric of the day tier (`usage_rollup_days`), any other piece its 15-minute buckets;
  counts and sums add, the greatest maximum wins, the latest value is that of the greatest
  (timestamp, transaction_id) (`rollup_reads.merged`, as a segment's read merges them);
- unique_count: the values of each piece from the per-UTC-day values (`billing.store.day_values`,
  a row per value and UTC day instead of one per value and bucket), counted once per local day.

At 1,000,000 events and 1,000 users (the preview benchmark's `big`), in process on PostgreSQL:
129 ms before, 21 ms after for a UTC customer, 157 ms before, 91 ms after for a +05:45 one
(medians of 8 interleaved, load about 4.7). Metrics whose rollups do not hold every stored
event (`rollups.fresh_signatures`) are metered from the raw events, one segment per day,
exactly as before.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Catalog, Metric
from billing.store import day_values, metering_sql, rollup_days, rollup_reads, rollups
from billing.store.metric_dialects import MetricDialect, PostgresMetrics, SqliteMetrics, sqlite_instant
from billing.store.rollup_days import DayPiece

DayQuantities = dict[str, Decimal]  # metric code -> its quantity that day


def usage_by_day(
    connection: sa.Connection,
    catalog: Catalog,
    customer_id: str,
    edges: Sequence[datetime],
    fresh: Collection[str] | None = None,
) -> list[DayQuantities]:
    """Each catalog metric's quantity in each day [edges[i], edges[i + 1]) of `customer_id`'s
    stored events, one entry per day in order; a day without events measures zero.
    `fresh`: the signatures whose rollups hold every stored event, looked up when not given."""
    days = len(edges) - 1
    if days < 1:
        return []
    if any(b <= a for a, b in pairwise(edges)):
        raise ValueError("the day edges must increase")
    metrics = list(catalog.metrics)
    found: list[DayQuantities] = [{} for _ in range(days)]
    if fresh is None:
        fresh = rollups.fresh_signatures(connection, metrics)
    gridded = all(rollups.on_grid(edge) for edge in edges)
    rolled = [m for m in metrics if gridded and rollups.signature_of(m) in fresh]
    if rolled:
        for day, quantities in enumerate(_rolled_days(connection, rolled, customer_id, edges)):
            found[day].update(quantities)
    raw = [m for m in metrics if m not in rolled]
    if raw:
        keys = [(customer_id, start, end) for start, end in pairwise(edges)]
        metered = metering_sql.meter_segments(connection, catalog, keys, raw)
        for day, key in enumerate(keys):
            found[day].update({code: usage.quantity for code, usage in metered[key].items()})
    return [{m.code: quantities[m.code] for m in metrics} for quantities in found]


def _rolled_days(
    connection: sa.Connection, metrics: Sequence[Metric], customer_id: str, edges: Sequence[datetime]
) -> list[DayQuantities]:
    postgres = connection.dialect.name == "postgresql"
    dialect: MetricDialect = PostgresMetrics() if postgres else SqliteMetrics()
    statement = _statement(metrics, customer_id, rollup_days.day_pieces(edges), dialect)
    rows = dialect.rows(connection, statement)
    by_day = {int(row[0]): row[1:] for row in rows}
    zero = [None] * len(metrics)
    return [
        {m.code: _quantity(raw) for m, raw in zip(metrics, by_day.get(day, zero), strict=True)}
        for day in range(1, len(edges))
    ]


def _quantity(raw: Any) -> Decimal:
    return Decimal(0) if raw is None else raw if isinstance(raw, Decimal) else Decimal(raw)


def _pieces(pieces: Sequence[DayPiece], dialect: MetricDialect) -> str:
    """The CTE `pieces(day, utc_day, lo, hi, whole)`: a row per piece of a local day."""
    if isinstance(dialect, PostgresMetrics):

        def instant(at: datetime) -> str:
            return f"CAST({dialect.bind(at.isoformat())} AS timestamptz)"

        true, false = "true", "false"
    else:

        def instant(at: datetime) -> str:
            return dialect.bind(sqlite_instant(at))

        true, false = "1", "0"
    rows = ", ".join(
        f"({p.day}, {instant(p.utc_day)}, {instant(p.lo)}, {instant(p.hi)}, {true if p.whole else false})"
        for p in pieces
    )
    return f"pieces(day, utc_day, lo, hi, whole) AS (VALUES {rows})"


def _statement(
    metrics: Sequence[Metric], customer_id: str, pieces: Sequence[DayPiece], dialect: MetricDialect
) -> str:
    """Every metric of every day in one statement: one row per day with usage (`d.day`, from 1),
    then a column per metric; NULL where a metric has none that day (zero)."""
    bind = dialect.bind
    who = bind(customer_id)
    bucketed = [m for m in metrics if m.aggregation != "unique_count"]
    distinct = [m for m in metrics if m.aggregation == "unique_count"]
    ctes, joins = [_pieces(pieces, dialect)], []
    if bucketed:
        signatures = ", ".join(bind(s) for s in sorted({rollups.signature_of(m) for m in bucketed}))
        aggregates = "".join(f", {rollup_reads.merged(m, dialect)} AS m{i}" for i, m in enumerate(bucketed))
        rows = "r.signature, r.events, r.value, r.latest_at, r.latest_id"
        ctes.append(  # whole UTC days from the day tier, the rest of a local day from its buckets
            f"""rolled AS (SELECT r.day{aggregates} FROM (
  SELECT p.day AS day, {rows} FROM pieces p JOIN usage_rollup_days r ON r.customer_id = {who}
   AND r.signature IN ({signatures}) AND r.day = p.utc_day WHERE p.whole
  UNION ALL
  SELECT p.day, {rows} FROM pieces p JOIN usage_rollups r ON r.customer_id = {who}
   AND r.signature IN ({signatures}) AND r.bucket >= p.lo AND r.bucket < p.hi WHERE NOT p.whole
  ) r GROUP BY r.day)"""
        )
        joins.append("LEFT JOIN rolled ON rolled.day = d.day")
    if distinct:
        signatures = ", ".join(bind(s) for s in sorted({rollups.signature_of(m) for m in distinct}))
        counts = "".join(
            f", count(*) FILTER (WHERE signature = {bind(rollups.signature_of(m))}) AS u{i}"
            for i, m in enumerate(distinct)
        )
        several = len({p.day for p in pieces}) < len(pieces)
        seen = day_values.seen_in_pieces(who, signatures, several, any(p.inside for p in pieces))
        ctes.append(f"counted AS (SELECT day{counts} FROM ({seen}) seen GROUP BY day)")
        joins.append("LEFT JOIN counted ON counted.day = d.day")
    columns = [
        f"counted.u{distinct.index(m)}" if m.aggregation == "unique_count" else f"rolled.m{bucketed.index(m)}"
        for m in metrics
    ]
    return (
        f"WITH {', '.join(ctes)}\nSELECT d.day, {', '.join(columns)}\n"
        "FROM (SELECT DISTINCT day FROM pieces) d\n" + "\n".join(joins)
    )
