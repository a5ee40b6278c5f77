"""Metering in SQL: every metric over many customers' segments in one set-based query.

One statement scans the events of all requested segments once and computes each metric with a
`FILTER`ed aggregate, so rating a period for ten thousand customers is one query, not ten
thousand. Each aggregate is the SQL twin of a definition in `billing.core.metering`, and the tests
hold them equal on the same events:

- PostgreSQL: exact `numeric` arithmetic on `jsonb`; `latest` orders by (timestamp,
  transaction_id) with the byte-order collation of the column.
- SQLite: the core's own accumulators registered as SQL aggregates (`billing_sum` ...), fed the
  JSON text of each number, since SQLite's numbers are binary floats.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Catalog, Metric
from billing.core.events import dumps, loads
from billing.core.metering import MetricState
from billing.core.pricing.base import MeteredUsage
from billing.store import rollup_reads, rollups, unmeterable
from billing.store.metric_dialects import MetricDialect as _Dialect
from billing.store.metric_dialects import PostgresMetrics as _Postgres
from billing.store.metric_dialects import SqliteMetrics as _Sqlite
from billing.store.metric_dialects import sqlite_instant as _sqlite_instant
from billing.store.segment_queries import SegmentKey as SegmentKey  # re-exported: the services name it
from billing.store.segment_queries import fill_sqlite_segments, stream_postgres

USE_ROLLUPS = True  # read the usage rollups where they apply (benchmarks compare both ways)
UsageBySegmentKey = dict[SegmentKey, dict[str, MeteredUsage]]


@dataclass(frozen=True, slots=True)
class _Column:
    metric: Metric
    events: bool  # also count the metric's events (percentage charges bill per transaction)


def metered_columns(catalog: Catalog, metrics: Iterable[Metric] | None = None) -> list[_Column]:
    """The metrics to compute, and which of them need their event counts too."""
    chosen = list(catalog.metrics if metrics is None else metrics)
    counted = catalog.event_counted_metrics
    return [_Column(m, m.aggregation != "count" and m.code in counted) for m in chosen]


def _select_list(dialect: _Dialect, columns: Sequence[_Column]) -> str:
    parts = []
    for index, column in enumerate(columns):
        condition = dialect.condition(column.metric)
        parts.append(f"{dialect.aggregate(column.metric, condition)} AS m{index}")
        if column.events:
            parts.append(f"count(*) FILTER (WHERE {condition}) AS n{index}")
    return ",\n       ".join(parts)


def stream_segment_usage(
    connection: sa.Connection,
    catalog: Catalog,
    segments: Sequence[SegmentKey],
    metrics: Iterable[Metric] | None = None,
) -> Iterator[tuple[int, dict[str, MeteredUsage]]]:
    """(index in `segments`, usage) as the database produces each row, so a caller can price
    one segment while the next is still being computed; segments without events come last,
    measuring zero."""
    columns = metered_columns(catalog, metrics)
    if not segments or not columns:
        yield from ((index, _zero(columns)) for index in range(len(segments)))
        return
    seen = set()
    every_type = {c.metric.event_type for c in columns} == {m.event_type for m in catalog.metrics}
    with unmeterable.refusals_named(connection.engine, [c.metric for c in columns], segments):
        for row in _metered_rows(connection, columns, segments, every_type):
            seen.add(row[0])
            yield row[0], _usage(columns, row[1:])
    for index in range(len(segments)):
        if index not in seen:
            yield index, _zero(columns)


def _metered_rows(
    connection: sa.Connection,
    columns: Sequence[_Column],
    segments: Sequence[SegmentKey],
    every_type: bool = False,
) -> Iterator[Sequence[Any]]:
    """Segments on the 15-minute grid from the usage rollups when every metric's rollups hold
    every stored event (`billing.store.rollups`), the others from raw events. `every_type`:
    the columns meter every event type the catalog knows (see `_postgres_rows`)."""
    postgres = connection.dialect.name == "postgresql"
    on_grid: list[int] = []
    if USE_ROLLUPS:
        fresh = rollups.fresh_signatures(connection, (c.metric for c in columns))
        if all(rollups.signature_of(c.metric) in fresh for c in columns):
            on_grid = [i for i, (_, s, e) in enumerate(segments) if rollups.on_grid(s) and rollups.on_grid(e)]
    chosen = set(on_grid)
    raw = [i for i in range(len(segments)) if i not in chosen]
    if on_grid:
        rollup_rows = rollup_reads.postgres_rollup_rows if postgres else rollup_reads.sqlite_rollup_rows
        pairs = [(c.metric, c.events) for c in columns]
        for row in rollup_rows(connection, pairs, [segments[i] for i in on_grid]):
            yield (on_grid[row[0]], *row[1:])
    if raw:
        chosen_segments = [segments[i] for i in raw]
        rows = (
            _postgres_rows(connection, columns, chosen_segments, every_type)
            if postgres
            else _sqlite_rows(connection, columns, chosen_segments)
        )
        for row in rows:
            yield (raw[row[0]], *row[1:])


def meter_segments(
    connection: sa.Connection,
    catalog: Catalog,
    segments: Sequence[SegmentKey],
    metrics: Iterable[Metric] | None = None,
) -> UsageBySegmentKey:
    """Every metric's usage in each segment; segments without events measure zero."""
    return {segments[i]: usage for i, usage in stream_segment_usage(connection, catalog, segments, metrics)}


def _event_types(columns: Sequence[_Column]) -> list[str]:
    return sorted({c.metric.event_type for c in columns})


def _postgres_rows(
    connection: sa.Connection,
    columns: Sequence[_Column],
    segments: Sequence[SegmentKey],
    every_type: bool = False,
) -> Iterator[Sequence[Any]]:
    """Each aggregate filters its own event type; the WHERE on event types only skips rows no
    column counts. Ingest quarantines types the catalog does not meter, so when the columns
    meter every type the catalog knows it would skip nothing (at most events of an older
    catalog's types, which every aggregate's filter leaves out anyway, and a segment holding
    only those measures zero either way) and costs a comparison per row: it is left out."""
    dialect = _Postgres()
    select = _select_list(dialect, columns)
    types = dialect.bind("{" + ",".join(json.dumps(t) for t in _event_types(columns)) + "}")
    where = "" if every_type else f"WHERE e.event_type = ANY(CAST({types} AS text[]))\n"
    sql = f"""
SELECT s.n - 1, {select}
FROM jsonb_array_elements(%(segments)s::jsonb) WITH ORDINALITY AS s(segment, n)
JOIN events e ON e.customer_id = s.segment ->> 0
             AND e."timestamp" >= CAST(s.segment ->> 1 AS timestamptz)
             AND e."timestamp" < CAST(s.segment ->> 2 AS timestamptz)
{where}GROUP BY s.n"""
    yield from stream_postgres(connection, sql, segments)


def _sqlite_rows(
    connection: sa.Connection, columns: Sequence[_Column], segments: Sequence[SegmentKey]
) -> Iterator[Sequence[Any]]:
    fill_sqlite_segments(connection, "metering_segments", segments)
    dialect = _Sqlite()
    select = _select_list(dialect, columns)
    types = ", ".join(dialect.bind(t) for t in _event_types(columns))
    sql = f"""
SELECT s.n, {select}
FROM metering_segments s
JOIN events e ON e.customer_id = s.customer_id
             AND e."timestamp" >= s.starts AND e."timestamp" < s.ends
WHERE e.event_type IN ({types})
GROUP BY s.n"""
    yield from connection.execute(sa.text(sql), dialect.params)


def _zero(columns: Sequence[_Column]) -> dict[str, MeteredUsage]:
    return {c.metric.code: MeteredUsage(Decimal(0), 0) for c in columns}


def _usage(columns: Sequence[_Column], values: Sequence[Any]) -> dict[str, MeteredUsage]:
    usage = {}
    position = 0
    for column in columns:
        raw = values[position]
        position += 1
        quantity = Decimal(0) if raw is None else (raw if isinstance(raw, Decimal) else Decimal(raw))
        if column.events:
            events = int(values[position] or 0)
            position += 1
        elif column.metric.aggregation == "count":
            events = int(quantity)
        else:
            events = 0
        usage[column.metric.code] = MeteredUsage(quantity, events)
    return usage


# -- stored usage in mergeable form (previews) --------------------------------------------------
#
# A preview adds a few events to a period that may hold millions. These functions report what
# the database holds as `MetricState`s (the invoice run's aggregate expressions, plus the event
# counts and the key of the latest value that a merge needs) and look up, by value, which of the
# added distinct values are already stored, so nothing of the period is loaded into Python.
# PostgreSQL statements carry every constant as a literal and run without parameters.

_LATEST_KEY_SEPARATOR = "\t"


def stored_states(
    connection: sa.Connection,
    catalog: Catalog,
    segments: Sequence[SegmentKey],
    metrics: Iterable[Metric] | None = None,
) -> dict[SegmentKey, dict[str, MetricState]]:
    """Each catalog metric's (or each of `metrics`') `MetricState` over the stored events of
    each segment."""
    metrics = list(catalog.metrics if metrics is None else metrics)
    with unmeterable.refusals_named(connection.engine, metrics, segments):
        return {segment: _segment_states(connection, metrics, segment) for segment in segments}


def _segment_states(
    connection: sa.Connection, metrics: Sequence[Metric], segment: SegmentKey
) -> dict[str, MetricState]:
    if not metrics:
        return {}
    postgres = connection.dialect.name == "postgresql"
    dialect: _Dialect = _Postgres() if postgres else _Sqlite()
    columns = []
    for metric in metrics:
        condition = dialect.condition(metric)
        columns.append(f"count(*) FILTER (WHERE {condition})")
        if metric.aggregation != "count":
            columns.append(dialect.aggregate(metric, condition))
        if metric.aggregation in ("max", "latest"):
            present = f"{condition} AND {_field_text(dialect, metric)} IS NOT NULL"
            columns.append(f"count(*) FILTER (WHERE {present})")
        if metric.aggregation == "latest":
            columns += _latest_key_columns(dialect, present)
    where = _segment_condition(dialect, segment, metrics)
    statement = f"SELECT {', '.join(columns)}\nFROM events e\nWHERE {where}"
    (row,) = dialect.rows(connection, statement)
    row = list(row)
    states = {}
    for metric in metrics:
        events = int(row.pop(0) or 0)
        value = distinct = key = None
        if metric.aggregation != "count":
            raw = row.pop(0)
            value = None if raw is None else raw if isinstance(raw, Decimal) else Decimal(raw)
        if metric.aggregation in ("max", "latest") and not row.pop(0):
            value = None  # no event carried the field: SQLite's aggregates answer 0 then
        if metric.aggregation == "latest":
            key = _latest_key(row, postgres)
        if metric.aggregation == "unique_count":
            distinct, value = int(value or 0), None
        if metric.aggregation == "sum" and value is None:
            value = Decimal(0)
        states[metric.code] = MetricState(events, value, distinct or 0, key if value is not None else None)
    return states


def _field_text(dialect: _Dialect, metric: Metric) -> str:
    """The metric's field as SQL text, NULL when absent or JSON null."""
    if isinstance(dialect, _Sqlite):
        return f"(e.properties ->> {dialect.path(metric.field or '')})"
    return f"(e.properties ->> {dialect.bind(metric.field)})"


def _latest_key_columns(dialect: _Dialect, present: str) -> list[str]:
    if isinstance(dialect, _Sqlite):
        # Instants are fixed-width text on SQLite, so the greatest "timestamp<TAB>id" is the
        # greatest (timestamp, transaction_id), in byte order like PostgreSQL's "C" collation.
        separator = dialect.bind(_LATEST_KEY_SEPARATOR)
        return [f'max(e."timestamp" || {separator} || e.transaction_id) FILTER (WHERE {present})']
    order = 'ORDER BY e."timestamp" DESC, e.transaction_id DESC'
    return [
        f'(array_agg(e."timestamp" {order}) FILTER (WHERE {present}))[1]',
        f"(array_agg(e.transaction_id {order}) FILTER (WHERE {present}))[1]",
    ]


def _latest_key(row: list[Any], postgres: bool) -> tuple[datetime, str] | None:
    if postgres:
        instant, transaction_id = row.pop(0), row.pop(0)
        return None if instant is None else (instant.astimezone(UTC), transaction_id)
    text = row.pop(0)
    if text is None:
        return None
    instant_text, _, transaction_id = text.partition(_LATEST_KEY_SEPARATOR)
    return datetime.fromisoformat(instant_text).replace(tzinfo=UTC), transaction_id


def _segment_condition(dialect: _Dialect, segment: SegmentKey, metrics: Sequence[Metric]) -> str:
    customer, start, end = segment
    if isinstance(dialect, _Sqlite):
        starts, ends = dialect.bind(_sqlite_instant(start)), dialect.bind(_sqlite_instant(end))
        types = ", ".join(dialect.bind(t) for t in sorted({m.event_type for m in metrics}))
    else:
        starts = f"CAST({dialect.bind(start.isoformat())} AS timestamptz)"
        ends = f"CAST({dialect.bind(end.isoformat())} AS timestamptz)"
        types = ", ".join(dialect.bind(t) for t in sorted({m.event_type for m in metrics}))
    return (
        f"e.customer_id = {dialect.bind(customer)} "
        f'AND e."timestamp" >= {starts} AND e."timestamp" < {ends} '
        f"AND e.event_type IN ({types})"
    )


def stored_values_among(
    connection: sa.Connection, metric: Metric, segment: SegmentKey, values: Collection[str]
) -> set[str]:
    """Which of `values` (canonical JSON, as `dumps` writes them) the stored events that
    `metric` counts in `segment` hold in its field: one indexed scan, only matches returned."""
    if not values or metric.field is None:
        return set()
    postgres = connection.dialect.name == "postgresql"
    dialect: _Dialect = _Postgres() if postgres else _Sqlite()
    if isinstance(dialect, _Sqlite):
        field = f"(e.properties -> {dialect.path(metric.field)})"
        wanted = ", ".join(dialect.bind(v) for v in sorted(values))
        selected = field
    else:
        field = f"(e.properties -> {dialect.bind(metric.field)})"
        array = dialect.bind("[" + ",".join(sorted(values)) + "]")
        wanted = f"SELECT jsonb_array_elements(CAST({array} AS jsonb))"
        selected = f"CAST({field} AS text)"
    statement = (
        f"SELECT DISTINCT {selected}\nFROM events e\n"
        f"WHERE {_segment_condition(dialect, segment, [metric])} AND {dialect.condition(metric)} "
        f"AND {field} IN ({wanted})"
    )
    found = {dumps(loads(text)) for (text,) in dialect.rows(connection, statement)}
    return found & set(values)
