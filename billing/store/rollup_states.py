"""Stored usage in mergeable form, from the usage rollups: what a preview adds its events to.

`segment_states` gives each metric's `MetricState` (billing.core.metering) over a segment's
stored events, and `known_values` which of some distinct values those events hold already, as
`metering_sql.stored_states` and `stored_values_among` do from the raw events, but from the
15-minute buckets (`billing.store.rollups`) when the segment starts and ends on a bucket edge and
the metric's rollups hold every stored event (`fresh_signatures`). Their work grows with the
whole UTC days of the segment (a row a day per metric, `billing.store.rollup_days`) and its edge
quarter-hours (fewer than 96 at each end), the distinct values seen since its start
(`billing.store.value_spans`) and the values asked for, not with the events stored; a
`latest` value is one probe of the segment's last bucket holding one. The other segments and
metrics are read from the raw events, exactly as before.

Each read merges bucket aggregates as the core merges accumulators: events and sums add, the
greatest maximum wins, the latest value is that of the greatest (timestamp, transaction_id)
(byte order, the "C" collation of `latest_id`), distinct values count once over the buckets.
PostgreSQL statements carry every constant as a literal; SQLite's use its exact `billing_*`
aggregates over the decimal text the rollups keep.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Catalog, Metric
from billing.core.events import dumps, loads
from billing.core.metering import MetricState
from billing.store import metering_sql, rollup_days, rollups, value_spans
from billing.store.metric_dialects import MetricDialect, PostgresMetrics, SqliteMetrics, sqlite_instant
from billing.store.segment_queries import SegmentKey

_SQLITE_INSTANT_CHARS = 26  # 'YYYY-MM-DD HH:MM:SS.ffffff'


def on_the_grid(segment: SegmentKey) -> bool:
    _, start, end = segment
    return rollups.on_grid(start) and rollups.on_grid(end)


def segment_states(
    connection: sa.Connection,
    catalog: Catalog,
    segments: Sequence[SegmentKey],
    fresh: Collection[str] | None = None,
) -> dict[SegmentKey, dict[str, MetricState]]:
    """Each catalog metric's `MetricState` over the stored events of each segment: from the
    rollups where they apply, from the raw events for the rest. `fresh`: the signatures known
    to hold every stored event (`rollups.fresh_signatures`), looked up when not given."""
    metrics = list(catalog.metrics)
    if fresh is None:
        fresh = rollups.fresh_signatures(connection, metrics)
    rolled = [m for m in metrics if rollups.signature_of(m) in fresh]
    found: dict[SegmentKey, dict[str, MetricState]] = {}
    for segment in segments:
        use = rolled if on_the_grid(segment) else []
        chosen = {m.code for m in use}
        raw = [m for m in metrics if m.code not in chosen]
        states: dict[str, MetricState] = {}
        if use:
            states.update(_rollup_states(connection, use, segment))
        if raw:
            states.update(metering_sql.stored_states(connection, catalog, [segment], raw)[segment])
        found[segment] = {m.code: states[m.code] for m in metrics}
    return found


def known_values(
    connection: sa.Connection,
    metric: Metric,
    segment: SegmentKey,
    values: Collection[str],
    fresh: Collection[str] | None = None,
) -> set[str]:
    """Which of `values` (canonical JSON, as `dumps` writes them) the stored events `metric`
    counts in `segment` hold in its field: looked up by value in `usage_rollup_values` (its index
    on customer, signature, value, bucket), or among the raw events where rollups do not apply."""
    if not values or metric.field is None:
        return set()
    if fresh is None:
        fresh = rollups.fresh_signatures(connection, [metric])
    if rollups.signature_of(metric) not in fresh or not on_the_grid(segment):
        return metering_sql.stored_values_among(connection, metric, segment, values)
    wanted = sorted(values)
    if connection.dialect.name == "postgresql":
        indexes = _postgres_known(connection, metric, segment, wanted)
    else:
        indexes = _sqlite_known(connection, metric, segment, wanted)
    return {wanted[i] for i in indexes}


def _postgres_known(
    connection: sa.Connection, metric: Metric, segment: SegmentKey, wanted: list[str]
) -> list[int]:
    dialect = PostgresMetrics()
    customer, start, end = segment
    array = dialect.bind("[" + ",".join(wanted) + "]")
    statement = f"""
SELECT w.n - 1
FROM jsonb_array_elements(CAST({array} AS jsonb)) WITH ORDINALITY AS w(j, n)
WHERE EXISTS (
    SELECT 1 FROM usage_rollup_values v
    WHERE v.customer_id = {dialect.bind(customer)}
      AND v.signature = {dialect.bind(rollups.signature_of(metric))}
      AND v.value = {rollups.postgres_value_key("w.j")}
      AND v.bucket >= CAST({dialect.bind(start.isoformat())} AS timestamptz)
      AND v.bucket < CAST({dialect.bind(end.isoformat())} AS timestamptz))"""
    return [int(n) for (n,) in dialect.rows(connection, statement)]


def _sqlite_known(
    connection: sa.Connection, metric: Metric, segment: SegmentKey, wanted: list[str]
) -> list[int]:
    """The rollups keep `properties -> '$."field"'` of each stored event: the same operator over
    a document holding the value, serialized as stored events are (`dumps`), spells it alike."""
    dialect = SqliteMetrics()
    customer, start, end = segment
    path = dialect.path("v")
    documents = " UNION ALL ".join(
        f"SELECT {n} AS n, {dialect.bind(dumps({'v': loads(text)}))} AS doc" for n, text in enumerate(wanted)
    )
    statement = f"""
SELECT w.n FROM ({documents}) w
WHERE EXISTS (
    SELECT 1 FROM usage_rollup_values v
    WHERE v.customer_id = {dialect.bind(customer)}
      AND v.signature = {dialect.bind(rollups.signature_of(metric))}
      AND v.value = (w.doc -> {path})
      AND v.bucket >= {dialect.bind(sqlite_instant(start))}
      AND v.bucket < {dialect.bind(sqlite_instant(end))})"""
    return [int(n) for (n,) in dialect.rows(connection, statement)]


def _rollup_states(
    connection: sa.Connection, metrics: Sequence[Metric], segment: SegmentKey
) -> dict[str, MetricState]:
    postgres = connection.dialect.name == "postgresql"
    dialect: MetricDialect = PostgresMetrics() if postgres else SqliteMetrics()
    customer, start, end = segment
    if postgres:
        starts = f"CAST({dialect.bind(start.isoformat())} AS timestamptz)"
        ends = f"CAST({dialect.bind(end.isoformat())} AS timestamptz)"
    else:
        starts, ends = dialect.bind(sqlite_instant(start)), dialect.bind(sqlite_instant(end))
    who = dialect.bind(customer)
    window = f"l.customer_id = {who} AND l.bucket >= {starts} AND l.bucket < {ends}"
    columns: list[str] = []
    for metric in metrics:
        signature = dialect.bind(rollups.signature_of(metric))
        mine = f"r.signature = {signature}"
        columns.append(f"sum(r.events) FILTER (WHERE {mine})")
        own_buckets = f"{window} AND l.signature = {signature}"
        columns += _value_columns(metric.aggregation, mine, postgres, own_buckets)
        if metric.aggregation == "unique_count":
            columns.append(value_spans.distinct_count(who, signature, starts, ends, postgres))
    signatures = ", ".join(dialect.bind(s) for s in sorted({rollups.signature_of(m) for m in metrics}))
    rows = _segment_rows(dialect, who, signatures, segment, (starts, ends), postgres)
    statement = f"SELECT {', '.join(columns)}\nFROM ({rows}) r"
    (row,) = dialect.rows(connection, statement)
    values = list(row)
    return {metric.code: _state(metric.aggregation, values, postgres) for metric in metrics}


def _segment_rows(
    dialect: MetricDialect,
    who: str,
    signatures: str,
    segment: SegmentKey,
    bounds: tuple[str, str],
    postgres: bool,
) -> str:
    """The rows whose merge is the segment's state: its whole UTC days from the day tier
    (`rollup_days`), the quarter-hours before the first and after the last UTC midnight in it
    from the 15-minute tier; each range a scan of its table's primary key."""
    _, start, end = segment
    starts, ends = bounds
    days = rollup_days.split(start, end)

    def instant(at: datetime) -> str:
        if postgres:
            return f"CAST({dialect.bind(at.isoformat())} AS timestamptz)"
        return dialect.bind(sqlite_instant(at))

    def part(table: str, column: str, low: str, high: str) -> str:
        return (
            f"SELECT signature, events, value, latest_at, latest_id FROM {table} "
            f"WHERE customer_id = {who} AND signature IN ({signatures}) "
            f"AND {column} >= {low} AND {column} < {high}"
        )

    if days is None:
        return part("usage_rollups", "bucket", starts, ends)
    first, last = instant(days.first_day), instant(days.last_day)
    parts = [part("usage_rollup_days", "day", first, last)]
    if days.start < days.first_day:
        parts.append(part("usage_rollups", "bucket", starts, first))
    if days.last_day < days.end:
        parts.append(part("usage_rollups", "bucket", last, ends))
    return "\nUNION ALL\n".join(parts)


def _value_columns(aggregation: str, mine: str, postgres: bool, own_buckets: str) -> list[str]:
    """The columns of the metric's value; `own_buckets`: the condition on `usage_rollups l`
    selecting the metric's buckets of the segment."""
    present = f"FILTER (WHERE {mine} AND r.value IS NOT NULL)"
    if aggregation == "sum":
        return [f"{'sum' if postgres else 'billing_sum'}(r.value) FILTER (WHERE {mine})"]
    if aggregation == "max":
        if postgres:
            return [f"max(r.value) FILTER (WHERE {mine})"]
        return [f"CASE WHEN count(r.value) {present} > 0 THEN billing_max(r.value) {present} END"]
    if aggregation == "latest":
        if postgres:
            # A bucket's latest (timestamp, transaction_id) lies in the bucket, so the last
            # bucket holding a value holds the latest: one probe of the primary key, backwards.
            return [
                f"(SELECT l.{column} FROM usage_rollups l WHERE {own_buckets} AND l.value IS NOT NULL "
                "ORDER BY l.bucket DESC LIMIT 1)"
                for column in ("value", "latest_at", "latest_id")
            ]
        return [
            f"CASE WHEN count(r.value) {present} > 0 THEN billing_latest(r.latest_at, r.latest_id, r.value) "
            f"{present} END",
            f"max(r.latest_at || char(9) || r.latest_id) {present}",  # tab: as the raw read's key
        ]
    return []


def _state(aggregation: str, row: list[Any], postgres: bool) -> MetricState:
    events = int(row.pop(0) or 0)
    if aggregation == "count":
        return MetricState(events)
    if aggregation == "unique_count":
        return MetricState(events, distinct=int(row.pop(0) or 0))
    value = _decimal(row.pop(0))
    if aggregation == "sum":
        return MetricState(events, Decimal(0) if value is None else value)
    if aggregation == "max":
        return MetricState(events, value)
    latest: tuple[datetime, str] | None = None
    if postgres:
        instant, transaction_id = row.pop(0), row.pop(0)
        if instant is not None:
            latest = (instant.astimezone(UTC), transaction_id)
    else:
        text = row.pop(0)
        if text is not None:
            at, transaction_id = text[:_SQLITE_INSTANT_CHARS], text[_SQLITE_INSTANT_CHARS + 1 :]
            latest = (datetime.fromisoformat(at).replace(tzinfo=UTC), transaction_id)
    return MetricState(events, value if latest is not None else None, latest=latest)


def _decimal(raw: Any) -> Decimal | None:
    return None if raw is None else raw if isinstance(raw, Decimal) else Decimal(raw)
