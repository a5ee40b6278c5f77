"""Stored events a metric cannot aggregate: refused by metering, then found and named.

Ingest quarantines an event whose metered property is not a number, so such an event is stored
only behind ingest's back (plain SQL) or under an older catalog (which `catalog load` refuses to
replace while such events are stored: `unmeterable_events`). Metering refuses it rather than
skipping it, on both databases alike: PostgreSQL's aggregates cast the JSON value itself to
`numeric`, which fails for a string, a boolean, an object or an array (a JSON null, like a
missing property, is no value); SQLite's call `billing_not_a_number`, which raises. The store
then names the events of the metered segments (`refusals_named`): the invoice run leaves those
customers uninvoiced, each with that line, and invoices the others; a preview or usage request
answers it. Nothing is billed from raw events as if the value were not there. The usage rollups
take in only numbers (`billing.store.rollups._add`): an event written behind ingest's back that a
later ingest folds into them counts there as no value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import sqlalchemy as sa
from psycopg import sql

from billing.core.catalog import Catalog, Metric
from billing.core.errors import UnmeterableUsage
from billing.core.events import dumps
from billing.core.metering import NUMERIC_AGGREGATIONS
from billing.store.metric_dialects import MetricDialect, PostgresMetrics, SqliteMetrics, sqlite_instant
from billing.store.segment_queries import SegmentKey

INVALID_PARAMETER_VALUE = "22023"  # the SQLSTATE of "cannot cast jsonb string to type numeric"
FOUND_AT_MOST = 10_000  # refused events read to name their customers (only plain SQL stores them)


def _refused_value(error: BaseException) -> bool:
    """Whether a database error may be metering refusing a metered value that is not a number
    (PostgreSQL's `invalid_parameter_value`, whatever the server's language; on SQLite the one
    function registered that raises)."""
    if isinstance(error, sa.exc.DBAPIError):
        error = error.orig  # type: ignore[assignment]
    if isinstance(error, psycopg.Error):
        return error.sqlstate == INVALID_PARAMETER_VALUE
    return isinstance(error, sqlite3.OperationalError) and "user-defined function raised" in str(error)


@contextmanager
def refusals_named(
    engine: sa.Engine, metrics: Iterable[Metric], segments: Sequence[SegmentKey]
) -> Iterator[None]:
    """Metering inside the block that the database refuses for a value that is not a number
    raises `UnmeterableUsage` naming the events; any other error goes on as it is."""
    try:
        yield
    except Exception as error:
        named = _refused_value(error) and _refused(engine, metrics, segments)
        if not named:
            raise
        raise named from None


def _refused(
    engine: sa.Engine, metrics: Iterable[Metric], segments: Sequence[SegmentKey]
) -> UnmeterableUsage | None:
    """The error to raise once metering refused a value: per customer, its first stored event
    inside the metered segments that a metric cannot aggregate; None when there is none (the
    database refused something else). Read on a connection of its own (on PostgreSQL the
    refused statement's transaction can run nothing more)."""
    with engine.connect() as connection:
        found = unmeterable_customers(connection, metrics, segments)
    return UnmeterableUsage(found) if found else None


def unmeterable_customers(
    connection: sa.Connection, metrics: Iterable[Metric], segments: Sequence[SegmentKey]
) -> dict[str, str]:
    """Per customer, why its stored usage in these segments cannot be metered: its first event
    there whose metered property is neither a number nor null."""
    windows: dict[str, list[tuple[Any, Any]]] = {}
    sqlite = connection.dialect.name != "postgresql"
    for customer, start, end in segments:
        bounds = (sqlite_instant(start), sqlite_instant(end)) if sqlite else (start, end)
        windows.setdefault(customer, []).append(bounds)
    found: dict[str, str] = {}
    if not segments:
        return found
    earliest = min(start for _, start, _ in segments)
    latest = max(end for _, _, end in segments)
    for metric in metrics:
        if metric.aggregation not in NUMERIC_AGGREGATIONS or metric.field is None:
            continue
        dialect, wrong = _wrong_value(connection, metric)
        if sqlite:
            within = (
                f"e.customer_id IN (SELECT value FROM json_each({dialect.bind(dumps(sorted(windows)))})) "
                f'AND e."timestamp" >= {dialect.bind(sqlite_instant(earliest))} '
                f'AND e."timestamp" < {dialect.bind(sqlite_instant(latest))}'
            )
        else:
            within = (
                f"e.customer_id = ANY({sql.Literal(sorted(windows)).as_string()}) "
                f'AND e."timestamp" >= {sql.Literal(earliest).as_string()} '
                f'AND e."timestamp" < {sql.Literal(latest).as_string()}'
            )
        statement = (
            f'SELECT e.customer_id, e."timestamp", e.transaction_id FROM events e '
            f"WHERE {within} AND {dialect.condition(metric)} AND {wrong} "
            f'ORDER BY e.customer_id, e."timestamp", e.transaction_id LIMIT {FOUND_AT_MOST}'
        )
        for customer, at, transaction_id in dialect.rows(connection, statement):
            inside = any(start <= at < end for start, end in windows.get(customer, ()))
            if inside and customer not in found:
                found[customer] = (
                    f"stored {metric.event_type!r} event {transaction_id!r} has a {metric.field!r} that is "
                    f"not a number, which metric {metric.code!r} cannot aggregate (not written by ingest, "
                    "which quarantines such events): fix or delete it"
                )
    return found


def unmeterable_events(connection: sa.Connection, catalog: Catalog) -> list[str]:
    """Stored events a new catalog's numeric metrics could not aggregate (a text where a number
    is needed): ingestion checked them against the catalog of their day, not this one."""
    problems = []
    for metric in catalog.metrics:
        if metric.aggregation not in NUMERIC_AGGREGATIONS or metric.field is None:
            continue
        dialect, wrong = _wrong_value(connection, metric)
        statement = (
            f"SELECT e.transaction_id FROM events e WHERE {dialect.condition(metric)} AND {wrong} LIMIT 1"
        )
        rows = dialect.rows(connection, statement)
        if rows:
            problems.append(
                f"metrics: {metric.code}: stored {metric.event_type!r} events have a {metric.field!r} "
                f"that is not a number (transaction_id {rows[0][0]!r}, maybe more); "
                "fix the metric or those events"
            )
    return problems


def _wrong_value(connection: sa.Connection, metric: Metric) -> tuple[MetricDialect, str]:
    """The dialect, and the condition that the metric's property holds something metering
    refuses (neither a number nor null nor missing)."""
    field = metric.field or ""
    if connection.dialect.name == "postgresql":
        postgres = PostgresMetrics()
        return postgres, f"jsonb_typeof(e.properties -> {postgres.bind(field)}) NOT IN ('number', 'null')"
    sqlite = SqliteMetrics()
    return sqlite, f"json_type(e.properties, {sqlite.path(field)}) NOT IN ('integer', 'real', 'null')"
