"""Usage rollups: per-customer, per-metric aggregates of 15-minute UTC buckets, kept exact.

A rollup row holds, for one customer, one metric definition and one bucket, what
`billing.core.metering` needs to go on from those events (`MetricState`): the number of events
the metric applies to, the exact sum, the greatest value, the latest value with its (timestamp,
transaction_id). `unique_count` keeps the bucket's distinct values in `usage_rollup_values`, so
a window counts each value once however many buckets hold it, and each value's first and last
bucket in `usage_rollup_value_spans` (`billing.store.value_spans`), so that a window's distinct
count reads one row per value instead of one per value and bucket. `usage_rollup_days` keeps the
same aggregates per UTC day, merged with the new events by the same statement as the buckets
(`billing.store.rollup_days`): a month reads a row per day and its edge quarter-hours.

Why 15 minutes: every UTC offset in use is a multiple of 15 minutes (`tests/unit/
test_rollup_grid.py` checks every zone of zoneinfo from 2000 to 2037), so each customer's local
midnight, hence every billing segment, starts and ends on a bucket edge.

Rollups are keyed by a metric's definition (`signature`: event type, aggregation, field,
filters), not its code: two catalog versions may define one code differently, and a backfill
rates with the older one. `maintain_catalog` builds a new definition's rollups from the stored
events, set-based, when a catalog is saved; `add_events_after` adds what an ingest stored, in its
transaction. Both run under the billing lock, so no event is added twice or missed; each
signature remembers the greatest event id it holds (`through_id`), and reads use rollups only
when that covers every stored event (`fresh_signatures`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from billing.core.catalog import Metric
from billing.core.events import dumps, loads
from billing.store import rollup_days, value_spans
from billing.store.database import lock_billing, member_of
from billing.store.metric_dialects import PostgresMetrics, SqliteMetrics
from billing.store.models import Event, RollupSignature

BUCKET = timedelta(minutes=15)
LONG_VALUE_BYTES = 512  # distinct values longer than this are kept by their SHA-256 (PostgreSQL)
_PG_BUCKET = "date_bin('15 minutes', e.\"timestamp\", TIMESTAMPTZ '2000-01-01 00:00:00+00')"
# SQLite keeps instants as 'YYYY-MM-DD HH:MM:SS.ffffff' text: the bucket is the same text with the
# minutes floored to a multiple of 15 and the seconds zeroed.
_SQLITE_BUCKET = (
    'substr(e."timestamp", 1, 14) || printf(\'%02d\', (CAST(substr(e."timestamp", 15, 2) AS INTEGER) '
    "/ 15) * 15) || ':' || '00.000000'"
)
_PG_DAY = rollup_days.postgres_day('e."timestamp"')
_SQLITE_DAY = rollup_days.sqlite_day('e."timestamp"')
_SQLITE_INSTANT_CHARS = 26


_SIGNATURES: dict[int, tuple[Metric, str]] = {}  # by id(metric), holding the metric: ids stay unique
_SIGNATURES_KEPT = 4096


def signature_of(metric: Metric) -> str:
    """What a metric's rollups depend on, hashed: its code and name do not count. A metric is
    immutable (and unhashable: its filters are a dict), so its signature is remembered by
    identity; a preview asks for each metric's several times a request."""
    known = _SIGNATURES.get(id(metric))
    if known is not None and known[0] is metric:
        return known[1]
    signature = hashlib.sha256(definition_of(metric).encode()).hexdigest()[:32]
    if len(_SIGNATURES) >= _SIGNATURES_KEPT:
        _SIGNATURES.clear()
    _SIGNATURES[id(metric)] = (metric, signature)
    return signature


def definition_of(metric: Metric) -> str:
    return dumps(
        {
            "event_type": metric.event_type,
            "aggregation": metric.aggregation,
            "field": metric.field,
            "filters": dict(metric.filters),
        }
    )


def _metric_of(definition: str) -> Metric:
    document = loads(definition)
    return Metric(code="rollup", **document)


def on_grid(instant: datetime) -> bool:
    """Whether an instant is a bucket edge (a whole quarter hour in UTC)."""
    utc = instant.astimezone(UTC)
    return utc.minute % 15 == 0 and utc.second == 0 and utc.microsecond == 0


def bucket_of(instant: datetime) -> datetime:
    utc = instant.astimezone(UTC)
    return utc.replace(minute=utc.minute - utc.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class Maintained:
    signature: str
    metric: Metric
    through_id: int


def maintained(connection: sa.Connection) -> list[Maintained]:
    rows = connection.execute(
        sa.select(RollupSignature.signature, RollupSignature.definition, RollupSignature.through_id)
    )
    return [Maintained(s, _metric_of(d), t) for s, d, t in rows]


def greatest_event_id(connection: sa.Connection) -> int:
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(Event.id), 0))).scalar_one())


def fresh_signatures(connection: sa.Connection, metrics: Iterable[Metric]) -> set[str]:
    """The signatures of `metrics` whose rollups hold every stored event."""
    wanted = {signature_of(m) for m in metrics}
    if not wanted:
        return set()
    # one statement, one round trip, built once per dialect: a preview makes this on every request
    rows = connection.execute(_fresh_query(connection.dialect.name), {"signatures": sorted(wanted)})
    return set(rows.scalars())


@functools.cache
def _fresh_query(dialect: str) -> sa.Select[Any]:
    newest = sa.select(sa.func.coalesce(sa.func.max(Event.id), 0)).scalar_subquery()
    return sa.select(RollupSignature.signature).where(
        member_of(dialect, RollupSignature.signature, "signatures"), RollupSignature.through_id >= newest
    )


def maintain_catalog(connection: sa.Connection, metrics: Iterable[Metric], now: datetime) -> list[str]:
    """Start maintaining the rollups of every metric not maintained yet, built from the stored
    events in this transaction, under the billing lock; returns the new signatures."""
    lock_billing(connection)
    known = {m.signature for m in maintained(connection)}
    new: dict[str, Metric] = {}
    for metric in metrics:
        signature = signature_of(metric)
        if signature not in known:
            new.setdefault(signature, metric)
    if not new:
        return []
    newest = greatest_event_id(connection)
    for signature, metric in new.items():
        _add(connection, Maintained(signature, metric, 0), newest)
        connection.execute(
            sa.insert(RollupSignature).values(
                signature=signature, definition=definition_of(metric), through_id=newest, built_at=now
            )
        )
    return sorted(new)


def add_events_after(connection: sa.Connection, after_id: int) -> None:
    """Add the events stored after `after_id` to every maintained rollup, set-based.

    Call it in the transaction that inserted them, under the billing lock, with `after_id` the
    greatest event id read after taking the lock. Each signature goes on from its own
    `through_id`, which is `after_id` unless events were stored without this (a bulk load): they
    are caught up then, and no event is ever added twice."""
    newest = greatest_event_id(connection)
    behind = [m for m in maintained(connection) if m.through_id < newest]
    if not behind:
        return  # nothing stored after `after_id`, nor missed before
    for entry in behind:
        _add(connection, entry, newest)
    connection.execute(
        sa.update(RollupSignature)
        .where(RollupSignature.signature.in_([m.signature for m in behind]))
        .values(through_id=newest)
    )


def _add(connection: sa.Connection, entry: Maintained, newest: int) -> None:
    """Add the events after `entry.through_id`, through `newest` (the greatest stored id).

    Only numbers are taken in as a numeric definition's values, where raw metering refuses any
    other value (`billing.store.unmeterable`): every definition ever saved is maintained, and an
    older one may read a field that the active catalog's metrics, which ingest checks events
    against, hold text in (`catalog load` refuses to make such a definition active again)."""
    if connection.dialect.name == "postgresql":
        statements = _postgres_statements(entry, newest)
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            # No parameters (every constant is a literal): psycopg sends them as one query, one
            # round trip, run in order in this transaction.
            cursor.execute(";\n".join(statements))
    else:
        for statement, params in _sqlite_statements(entry, newest):
            connection.execute(sa.text(statement), params)


def _postgres_statements(entry: Maintained, newest: int) -> list[str]:
    metric, dialect = entry.metric, PostgresMetrics()
    signature = dialect.bind(entry.signature)
    # Bounded on both sides: with no statistics on `events` (a table just loaded, before
    # autovacuum analyzes it) PostgreSQL guesses `id > n` alone at a third of the table and
    # scans every stored event, in each statement; a closed range it guesses narrow, and reads
    # the new events by the primary key (they are always the last ids).
    where = f"e.id > {int(entry.through_id)} AND e.id <= {int(newest)} AND {dialect.condition(metric)}"
    field = dialect.bind(metric.field) if metric.field else "NULL"
    json_value = f"(e.properties -> {field})"
    number = (
        f"CASE WHEN jsonb_typeof({json_value}) = 'number' THEN CAST(e.properties ->> {field} AS numeric) END"
    )
    value, latest_at, latest_id = "NULL", "NULL", "NULL"
    if metric.aggregation == "sum":
        value = f"coalesce(sum({number}), 0)"
    elif metric.aggregation == "max":
        value = f"max({number})"
    elif metric.aggregation == "latest":
        order = f'ORDER BY e."timestamp" DESC, e.transaction_id DESC) FILTER (WHERE {number} IS NOT NULL))[1]'
        value = f"(array_agg({number} {order}"
        latest_at = f'(array_agg(e."timestamp" {order}'
        latest_id = f"(array_agg(e.transaction_id {order}"
    aggregates = (value, latest_at, latest_id)
    statements = [
        _postgres_merge(
            metric.aggregation, signature, aggregates, where, "usage_rollups", "bucket", _PG_BUCKET
        ),
        # the same new events' aggregates merged into their UTC days, as into their buckets
        _postgres_merge(
            metric.aggregation, signature, aggregates, where, "usage_rollup_days", "day", _PG_DAY
        ),
    ]
    if metric.aggregation == "unique_count":
        key = postgres_value_key(json_value)
        statements.append(
            f"""
INSERT INTO usage_rollup_values (customer_id, signature, bucket, value)
SELECT DISTINCT e.customer_id, {signature}, {_PG_BUCKET}, {key}
FROM events e
WHERE {where} AND {json_value} IS NOT NULL AND jsonb_typeof({json_value}) <> 'null'
ON CONFLICT DO NOTHING"""
        )
        statements.append(value_spans.postgres_widen(signature, _PG_BUCKET, key, where))
    return statements


def _postgres_merge(
    aggregation: str,
    signature: str,
    aggregates: tuple[str, str, str],
    where: str,
    table: str,
    column: str,
    period: str,
) -> str:
    """The statement merging the aggregates (`value`, `latest_at`, `latest_id` over `events e`)
    of the events `where` selects, grouped by customer and `period`, into the rows of `table`
    keyed by `column`: counts and sums add, the greatest value stays, the latest is the greater
    (timestamp, transaction_id) in byte order (both columns are "C"). Every aggregation is a
    merge of accumulators, so a row is the same whether it was built at once or chunk by chunk."""
    value, latest_at, latest_id = aggregates
    newer = (
        "excluded.latest_at IS NOT NULL AND (r.latest_at IS NULL OR "
        "(excluded.latest_at, excluded.latest_id) > (r.latest_at, r.latest_id))"
    )
    merged = {
        "sum": "r.value + excluded.value",
        "max": "GREATEST(r.value, excluded.value)",
        "latest": f"CASE WHEN {newer} THEN excluded.value ELSE r.value END",
    }.get(aggregation, "NULL")
    updates = ["events = r.events + excluded.events", f"value = {merged}"]
    if aggregation == "latest":
        updates += [
            f"latest_at = CASE WHEN {newer} THEN excluded.latest_at ELSE r.latest_at END",
            f"latest_id = CASE WHEN {newer} THEN excluded.latest_id ELSE r.latest_id END",
        ]
    return f"""
INSERT INTO {table} AS r (customer_id, signature, {column}, events, value, latest_at, latest_id)
SELECT e.customer_id, {signature}, {period}, count(*), {value}, {latest_at}, {latest_id}
FROM events e
WHERE {where}
GROUP BY e.customer_id, {period}
ON CONFLICT (customer_id, signature, {column}) DO UPDATE SET {", ".join(updates)}"""


def postgres_value_key(json_value: str) -> str:
    """The text `usage_rollup_values.value` keeps for the jsonb expression `json_value` on
    PostgreSQL (NULL for JSON null): numbers without trailing zeros (1.0 and 1 are one value, as
    jsonb and the core's `dumps` hold), strings JSON-quoted ("1" and 1 differ), and a text longer
    than LONG_VALUE_BYTES as 'sha256:' and its hex digest. Lookups apply the same expression to
    the values they look for, so both sides are spelled alike."""
    text = (
        f"CASE jsonb_typeof({json_value}) "
        f"WHEN 'number' THEN CAST(trim_scale(CAST({json_value} AS numeric)) AS text) "
        f"WHEN 'null' THEN NULL ELSE CAST({json_value} AS text) END"
    )
    return (
        f"CASE WHEN octet_length({text}) <= {LONG_VALUE_BYTES} THEN {text} "
        f"ELSE 'sha256:' || encode(sha256(convert_to({text}, 'UTF8')), 'hex') END"
    )


def _sqlite_statements(entry: Maintained, newest: int) -> list[tuple[str, dict[str, object]]]:
    """The new events' aggregates merged with the buckets' stored ones by the same exact SQL
    aggregates (the core's accumulators) over both, then written back whole."""
    metric, dialect = entry.metric, SqliteMetrics()
    signature = dialect.bind(entry.signature)
    start = dialect.bind(int(entry.through_id))
    condition = dialect.condition(metric)
    path = dialect.path(metric.field) if metric.field else "NULL"
    kind = f"json_type(e.properties, {path})"
    number = f"CASE WHEN {kind} IN ('integer', 'real') THEN e.properties -> {path} END"
    separator = dialect.bind("\t")
    key = f"max(CASE WHEN value IS NOT NULL THEN latest_at || {separator} || latest_id END)"
    value, latest_at, latest_id = "NULL", "NULL", "NULL"
    if metric.aggregation == "sum":
        value = "billing_sum(value)"
    elif metric.aggregation == "max":
        value = "CASE WHEN count(value) > 0 THEN billing_max(value) END"
    elif metric.aggregation == "latest":
        value = "CASE WHEN count(value) > 0 THEN billing_latest(latest_at, latest_id, value) END"
        latest_at = f"substr({key}, 1, {_SQLITE_INSTANT_CHARS})"
        latest_id = f"substr({key}, {_SQLITE_INSTANT_CHARS + 2})"
    fresh = f"e.id > {start} AND e.id <= {dialect.bind(int(newest))} AND {condition}"
    aggregates = (number, value, latest_at, latest_id)
    statements = [
        (
            _sqlite_merge(signature, aggregates, fresh, "usage_rollups", "bucket", _SQLITE_BUCKET),
            dialect.params,
        ),
        # the same new events merged into their UTC days, as into their buckets
        (
            _sqlite_merge(signature, aggregates, fresh, "usage_rollup_days", "day", _SQLITE_DAY),
            dialect.params,
        ),
    ]
    if metric.aggregation == "unique_count":
        statements.append(
            (
                f"""
INSERT OR IGNORE INTO usage_rollup_values (customer_id, signature, bucket, value)
SELECT DISTINCT e.customer_id, {signature}, {_SQLITE_BUCKET}, e.properties -> {path}
FROM events e
WHERE {fresh} AND {kind} IS NOT NULL AND {kind} <> 'null'""",
                dialect.params,
            )
        )
        key = f"CASE WHEN {kind} <> 'null' THEN e.properties -> {path} END"
        statements.append((value_spans.sqlite_widen(signature, _SQLITE_BUCKET, key, fresh), dialect.params))
    return statements


def _sqlite_merge(
    signature: str, aggregates: tuple[str, str, str, str], fresh: str, table: str, column: str, period: str
) -> str:
    """The rows of `table` (keyed by `column`) that the events `fresh` selects fall in, merged
    with those events (`number` their value) by the exact SQL aggregates `value`, `latest_at`,
    `latest_id` (the core's accumulators) over both, and written back whole."""
    number, value, latest_at, latest_id = aggregates
    return f"""
INSERT OR REPLACE INTO {table} (customer_id, signature, {column}, events, value, latest_at, latest_id)
SELECT customer_id, {signature}, period, sum(events), {value}, {latest_at}, {latest_id}
FROM (
    SELECT e.customer_id AS customer_id, {period} AS period, 1 AS events, {number} AS value,
           e."timestamp" AS latest_at, e.transaction_id AS latest_id
    FROM events e
    WHERE {fresh}
    UNION ALL
    SELECT r.customer_id, r.{column}, r.events, r.value, r.latest_at, r.latest_id
    FROM {table} r
    WHERE r.signature = {signature}
      AND (r.customer_id, r.{column}) IN (SELECT e.customer_id, {period} FROM events e WHERE {fresh})
)
GROUP BY customer_id, period"""
