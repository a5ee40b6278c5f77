"""Metering in SQL: every metric over many customers' segments in one set-based query.

One statement scans the events of all requested segments once and computes each metric with a
`FILTER`ed aggregate, so rating a period for ten thousand customers is one query, not ten
thousand. Each aggregate is the SQL twin of a definition in `billing.metering`, and the tests
hold them equal on the same events:

- PostgreSQL: exact `numeric` arithmetic on `jsonb`; `latest` orders by (timestamp,
  transaction_id) with the byte-order collation of the column.
- SQLite: the core's own accumulators registered as SQL aggregates (`billing_sum` ...), fed the
  JSON text of each number, since SQLite's numbers are binary floats.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from billing.catalog import Catalog, Metric
from billing.events import dumps
from billing.pricing.base import MeteredUsage

SegmentKey = tuple[str, datetime, datetime]  # customer, start, end (UTC, half-open)
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


class _Dialect:
    """How one database spells a metric's condition and aggregate."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def condition(self, metric: Metric) -> str:
        parts = [f"e.event_type = {self.bind(metric.event_type)}"]
        parts += [self.filter(key, value) for key, value in metric.filters.items()]
        return " AND ".join(parts)

    def filter(self, key: str, value: Any) -> str:
        raise NotImplementedError

    def aggregate(self, metric: Metric, condition: str) -> str:
        raise NotImplementedError


class _Postgres(_Dialect):
    def filter(self, key: str, value: Any) -> str:
        return f"e.properties @> CAST({self.bind(dumps({key: value}))} AS jsonb)"

    def aggregate(self, metric: Metric, condition: str) -> str:
        where = f"FILTER (WHERE {condition})"
        if metric.aggregation == "count":
            return f"count(*) {where}"
        field = self.bind(metric.field)
        number = f"CAST(e.properties ->> {field} AS numeric)"
        if metric.aggregation == "sum":
            return f"sum({number}) {where}"
        if metric.aggregation == "max":
            return f"max({number}) {where}"
        if metric.aggregation == "unique_count":
            return f"count(DISTINCT e.properties -> {field}) {where}"
        return f'(array_agg({number} ORDER BY e."timestamp" DESC, e.transaction_id DESC) {where})[1]'


class _Sqlite(_Dialect):
    def path(self, key: str) -> str:
        return self.bind('$."' + key.replace('"', '\\"') + '"')

    def filter(self, key: str, value: Any) -> str:
        path = self.path(key)
        if isinstance(value, bool):
            return f"json_type(e.properties, {path}) = {self.bind('true' if value else 'false')}"
        if isinstance(value, str):
            return (
                f"json_type(e.properties, {path}) = 'text' "
                f"AND json_extract(e.properties, {path}) = {self.bind(value)}"
            )
        return (
            f"json_type(e.properties, {path}) IN ('integer', 'real') "
            f"AND (e.properties -> {path}) = {self.bind(dumps(value))}"
        )

    def aggregate(self, metric: Metric, condition: str) -> str:
        where = f"FILTER (WHERE {condition})"
        if metric.aggregation == "count":
            return f"count(*) {where}"
        value = f"(e.properties -> {self.path(metric.field or '')})"
        if metric.aggregation == "sum":
            return f"billing_sum({value}) {where}"
        if metric.aggregation == "max":
            return f"billing_max({value}) {where}"
        if metric.aggregation == "unique_count":
            return f"count(DISTINCT {value}) {where}"
        return f'billing_latest(e."timestamp", e.transaction_id, {value}) {where}'


def _select_list(dialect: _Dialect, columns: Sequence[_Column]) -> str:
    parts = []
    for index, column in enumerate(columns):
        condition = dialect.condition(column.metric)
        parts.append(f"{dialect.aggregate(column.metric, condition)} AS m{index}")
        if column.events:
            parts.append(f"count(*) FILTER (WHERE {condition}) AS n{index}")
    return ",\n       ".join(parts)


def meter_segments(
    connection: sa.Connection,
    catalog: Catalog,
    segments: Sequence[SegmentKey],
    metrics: Iterable[Metric] | None = None,
) -> UsageBySegmentKey:
    """Every metric's usage in each segment; segments without events measure zero."""
    columns = metered_columns(catalog, metrics)
    result: UsageBySegmentKey = {key: _zero(columns) for key in segments}
    if not segments or not columns:
        return result
    if connection.dialect.name == "postgresql":
        rows = _postgres_rows(connection, columns, segments)
    else:
        rows = _sqlite_rows(connection, columns, segments)
    for row in rows:
        result[segments[row[0]]] = _usage(columns, row[1:])
    return result


def _event_types(columns: Sequence[_Column]) -> list[str]:
    return sorted({c.metric.event_type for c in columns})


def _postgres_rows(
    connection: sa.Connection, columns: Sequence[_Column], segments: Sequence[SegmentKey]
) -> Sequence[sa.Row[Any]]:
    dialect = _Postgres()
    select = _select_list(dialect, columns)
    types = dialect.bind(_event_types(columns))
    sql = f"""
SELECT s.n, {select}
FROM unnest(CAST(:customers AS text[]), CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[]))
     WITH ORDINALITY AS s(customer_id, starts, ends, n)
JOIN events e ON e.customer_id = s.customer_id
             AND e."timestamp" >= s.starts AND e."timestamp" < s.ends
WHERE e.event_type = ANY(CAST({types} AS text[]))
GROUP BY s.n"""
    params = {
        **dialect.params,
        "customers": [s[0] for s in segments],
        "starts": [s[1] for s in segments],
        "ends": [s[2] for s in segments],
    }
    rows = connection.execute(sa.text(sql), params).all()
    return [(row[0] - 1, *row[1:]) for row in rows]  # type: ignore[misc]


def _sqlite_rows(
    connection: sa.Connection, columns: Sequence[_Column], segments: Sequence[SegmentKey]
) -> Sequence[sa.Row[Any]]:
    connection.execute(
        sa.text(
            "CREATE TEMP TABLE IF NOT EXISTS metering_segments "
            "(n INTEGER PRIMARY KEY, customer_id TEXT, starts TEXT, ends TEXT)"
        )
    )
    connection.execute(sa.text("DELETE FROM metering_segments"))
    connection.execute(
        sa.text("INSERT INTO metering_segments VALUES (:n, :customer_id, :starts, :ends)"),
        [
            {"n": n, "customer_id": c, "starts": _sqlite_instant(s), "ends": _sqlite_instant(e)}
            for n, (c, s, e) in enumerate(segments)
        ],
    )
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
    return connection.execute(sa.text(sql), dialect.params).all()


def _sqlite_instant(instant: datetime) -> str:
    """The text SQLAlchemy stores for a UTC instant on SQLite, so comparisons are textual."""
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


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
