"""A customer's usage per local day, every metric of a run of consecutive days in one statement.

The console and `GET /v1/customers/{id}/usage` draw each metric's quantity of each local day of
the period so far. Reading each day as its own segment (`metering_sql.meter_segments`) made
PostgreSQL join every 15-minute bucket of the period to every day, casting each day's bounds
from text for every pair (28 days x 13,000 bucket rows), then sort them all by day: 2 s at
1,000,000 events. Here the days are one list of instants, `edges`: day i is
[edges[i], edges[i + 1]), each a local midnight computed by zoneinfo (a DST day is 23 or 25
hours, a +05:45 zone's midnight is 18:15 UTC: every one is a bucket edge), so PostgreSQL's own
time zone database is never asked. One pass over the buckets of [edges[0], edges[-1]) groups them
by the day holding them:

- PostgreSQL: `width_bucket(bucket, edges)`, a binary search of the sorted array (no join);
- SQLite: a join to the days' VALUES list on [start, end), each day a range of the primary key.

Counts and sums add, the greatest maximum wins, the latest value is that of the greatest
(timestamp, transaction_id) (`rollup_reads.merged`, as a segment's read merges them); a
`unique_count` day counts its distinct (day, value) pairs of `usage_rollup_values` in the same
statement. Metrics whose rollups do not hold every stored event (`rollups.fresh_signatures`)
are metered from the raw events, one segment per day, exactly as before.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Catalog, Metric
from billing.store import metering_sql, rollup_reads, rollups
from billing.store.metric_dialects import MetricDialect, PostgresMetrics, SqliteMetrics, sqlite_instant

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
    source = _PostgresSource(customer_id, edges) if postgres else _SqliteSource(customer_id, edges)
    statement = _statement(metrics, source)
    if postgres:
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            cursor.execute(statement)  # no parameters: every constant is a literal
            rows = list(cursor.fetchall())
    else:
        rows = list(connection.execute(sa.text(statement), source.dialect.params))
    by_day = {int(row[0]): row[1:] for row in rows}
    zero = [None] * len(metrics)
    return [
        {m.code: _quantity(raw) for m, raw in zip(metrics, by_day.get(day, zero), strict=True)}
        for day in range(1, len(edges))
    ]


def _quantity(raw: Any) -> Decimal:
    return Decimal(0) if raw is None else raw if isinstance(raw, Decimal) else Decimal(raw)


class _Source:
    """How a dialect selects the customer's rows of the days from a rollup table: `rows(table,
    alias)` is the FROM and WHERE clauses, `day(alias)` the number of the day holding a row."""

    def __init__(self, dialect: MetricDialect, prelude: str, days: str) -> None:
        self.dialect, self.prelude, self.days = dialect, prelude, days

    def rows(self, table: str, alias: str) -> str:
        raise NotImplementedError

    def day(self, alias: str) -> str:
        raise NotImplementedError


class _PostgresSource(_Source):
    def __init__(self, customer_id: str, edges: Sequence[datetime]) -> None:
        dialect = PostgresMetrics()
        super().__init__(dialect, "", f"generate_series(1, {len(edges) - 1}) AS d(day)")
        array = dialect.bind("{" + ",".join(edge.isoformat() for edge in edges) + "}")
        self.edges = f"CAST({array} AS timestamptz[])"
        self.first = f"CAST({dialect.bind(edges[0].isoformat())} AS timestamptz)"
        self.last = f"CAST({dialect.bind(edges[-1].isoformat())} AS timestamptz)"
        self.who = dialect.bind(customer_id)

    def rows(self, table: str, alias: str) -> str:
        return (
            f"FROM {table} {alias}\n  WHERE {alias}.customer_id = {self.who} "
            f"AND {alias}.bucket >= {self.first} AND {alias}.bucket < {self.last}"
        )

    def day(self, alias: str) -> str:
        return f"width_bucket({alias}.bucket, {self.edges})"


class _SqliteSource(_Source):
    def __init__(self, customer_id: str, edges: Sequence[datetime]) -> None:
        dialect = SqliteMetrics()
        listed = ", ".join(
            f"({n}, {dialect.bind(sqlite_instant(start))}, {dialect.bind(sqlite_instant(end))})"
            for n, (start, end) in enumerate(pairwise(edges), start=1)
        )
        super().__init__(dialect, f"days(day, starts, ends) AS (VALUES {listed}), ", "days d")
        self.who = dialect.bind(customer_id)

    def rows(self, table: str, alias: str) -> str:
        return (
            f"FROM days w JOIN {table} {alias} ON {alias}.customer_id = {self.who} "
            f"AND {alias}.bucket >= w.starts AND {alias}.bucket < w.ends\n  WHERE true"
        )

    def day(self, alias: str) -> str:
        return "w.day"


def _statement(metrics: Sequence[Metric], source: _Source) -> str:
    """Every metric of every day in one statement: one row per day (`d.day`, from 1), then a
    column per metric; a day without rows has NULLs (zero)."""
    dialect = source.dialect
    bind = dialect.bind
    bucketed = [m for m in metrics if m.aggregation != "unique_count"]
    distinct = [m for m in metrics if m.aggregation == "unique_count"]
    ctes, joins = [], []
    if bucketed:
        signatures = ", ".join(bind(s) for s in sorted({rollups.signature_of(m) for m in bucketed}))
        aggregates = "".join(f", {rollup_reads.merged(m, dialect)} AS m{i}" for i, m in enumerate(bucketed))
        ctes.append(
            f"rolled AS (SELECT {source.day('r')} AS day{aggregates}\n  {source.rows('usage_rollups', 'r')}"
            f" AND r.signature IN ({signatures})\n  GROUP BY 1)"
        )
        joins.append("LEFT JOIN rolled ON rolled.day = d.day")
    if distinct:
        signatures = ", ".join(bind(s) for s in sorted({rollups.signature_of(m) for m in distinct}))
        counts = "".join(
            f", count(*) FILTER (WHERE signature = {bind(rollups.signature_of(m))}) AS u{i}"
            for i, m in enumerate(distinct)
        )
        ctes.append(  # each (day, value) once, then counted per day: a hash, no sort of them all
            f"seen AS (SELECT DISTINCT {source.day('v')} AS day, v.signature AS signature, v.value AS value\n"
            f"  {source.rows('usage_rollup_values', 'v')} AND v.signature IN ({signatures})),\n"
            f"counted AS (SELECT day{counts} FROM seen GROUP BY day)"
        )
        joins.append("LEFT JOIN counted ON counted.day = d.day")
    columns = [
        f"counted.u{distinct.index(m)}" if m.aggregation == "unique_count" else f"rolled.m{bucketed.index(m)}"
        for m in metrics
    ]
    return (
        f"WITH {source.prelude}{', '.join(ctes)}\nSELECT d.day, {', '.join(columns)}\n"
        f"FROM {source.days}\n" + "\n".join(joins)
    )
