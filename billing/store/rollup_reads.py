"""Metering from the usage rollups: the rows `billing.store.metering_sql` reads from raw events,
from the 15-minute buckets instead, for segments whose start and end are bucket edges.

Each aggregate merges bucket aggregates as `billing.core.metering` merges accumulators: events
and sums add, the greatest maximum wins, the latest value is that of the greatest (timestamp,
transaction_id), distinct values are counted once over the window's buckets (from each value's
first and last bucket, `billing.store.value_spans`). A row has the shape
of the raw query's: the segment's index, then per metric its quantity (and event count).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Metric
from billing.store import value_spans
from billing.store.metric_dialects import MetricDialect, PostgresMetrics, SqliteMetrics
from billing.store.rollups import signature_of
from billing.store.segment_queries import SegmentKey, fill_sqlite_segments, stream_postgres

Column = tuple[Metric, bool]  # the metric, and whether its event count is reported too


def _select_list(columns: Sequence[Column], dialect: MetricDialect, values: Callable[[str], str]) -> str:
    bind, postgres = dialect.bind, isinstance(dialect, PostgresMetrics)
    parts = []
    for index, (metric, events) in enumerate(columns):
        signature = bind(signature_of(metric))
        where = f"FILTER (WHERE r.signature = {signature})"
        aggregation = metric.aggregation
        if aggregation == "count":
            part = f"sum(r.events) {where}"
        elif aggregation == "unique_count":
            part = values(signature)
        else:
            part = _merged(aggregation, where, signature, postgres)
        parts.append(f"{part} AS m{index}")
        if events:
            parts.append(f"sum(r.events) {where} AS n{index}")
    return ",\n       ".join(parts)


def merged(metric: Metric, dialect: MetricDialect) -> str:
    """The aggregate merging the bucket rows `usage_rollups r` of `metric` (all but
    `unique_count`, whose distinct values are in `usage_rollup_values`) into its quantity."""
    signature = dialect.bind(signature_of(metric))
    where = f"FILTER (WHERE r.signature = {signature})"
    if metric.aggregation == "count":
        return f"sum(r.events) {where}"
    return _merged(metric.aggregation, where, signature, isinstance(dialect, PostgresMetrics))


def _merged(aggregation: str, where: str, signature: str, postgres: bool) -> str:
    if postgres:
        if aggregation == "sum":
            return f"sum(r.value) {where}"
        if aggregation == "max":
            return f"max(r.value) {where}"
        order = "ORDER BY r.latest_at DESC, r.latest_id DESC"
        present = f"FILTER (WHERE r.signature = {signature} AND r.value IS NOT NULL)"
        return f"(array_agg(r.value {order}) {present})[1]"
    if aggregation == "sum":
        return f"billing_sum(r.value) {where}"
    if aggregation == "max":
        return f"billing_max(r.value) {where}"
    return f"billing_latest(r.latest_at, r.latest_id, r.value) {where}"


def postgres_rollup_rows(
    connection: sa.Connection, columns: Sequence[Column], segments: Sequence[SegmentKey]
) -> Iterator[Sequence[Any]]:
    dialect = PostgresMetrics()
    customer = "s.segment ->> 0"
    starts, ends = "CAST(s.segment ->> 1 AS timestamptz)", "CAST(s.segment ->> 2 AS timestamptz)"

    def values(signature: str) -> str:
        return value_spans.distinct_count(customer, signature, starts, ends, postgres=True)

    select = _select_list(columns, dialect, values)
    signatures = dialect.bind("{" + ",".join(sorted({signature_of(m) for m, _ in columns})) + "}")
    statement = f"""
SELECT s.n - 1, {select}
FROM jsonb_array_elements(%(segments)s::jsonb) WITH ORDINALITY AS s(segment, n)
JOIN usage_rollups r ON r.customer_id = {customer} AND r.bucket >= {starts} AND r.bucket < {ends}
WHERE r.signature = ANY(CAST({signatures} AS text[]))
GROUP BY s.n, s.segment"""
    yield from stream_postgres(connection, statement, segments)


def sqlite_rollup_rows(
    connection: sa.Connection, columns: Sequence[Column], segments: Sequence[SegmentKey]
) -> Iterator[Sequence[Any]]:
    fill_sqlite_segments(connection, "rollup_segments", segments)
    dialect = SqliteMetrics()

    def values(signature: str) -> str:
        return value_spans.distinct_count("s.customer_id", signature, "s.starts", "s.ends", postgres=False)

    select = _select_list(columns, dialect, values)
    signatures = ", ".join(dialect.bind(s) for s in sorted({signature_of(m) for m, _ in columns}))
    statement = f"""
SELECT s.n, {select}
FROM rollup_segments s
JOIN usage_rollups r ON r.customer_id = s.customer_id AND r.bucket >= s.starts AND r.bucket < s.ends
WHERE r.signature IN ({signatures})
GROUP BY s.n"""
    yield from connection.execute(sa.text(statement), dialect.params)
