"""How each database spells a metric's condition and aggregate over `events e`: the SQL twins of
`billing.core.metering`, shared by the metering of raw events and the rollups' maintenance.

- PostgreSQL: exact `numeric` arithmetic on `jsonb`; catalog constants are literals.
- SQLite: the core's own accumulators registered as SQL aggregates (`billing_sum` ...), fed the
  JSON text of each number, since SQLite's numbers are binary floats.

On both, a metered value that is not a number (only plain SQL can store one) is refused, not
skipped: `billing.store.unmeterable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from psycopg import sql

from billing.core.catalog import Metric
from billing.core.events import dumps


class MetricDialect:
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

    def rows(self, connection: sa.Connection, statement: str) -> list[Sequence[Any]]:
        """The rows of a statement spelt by this dialect, run on `connection`."""
        raise NotImplementedError


class PostgresMetrics(MetricDialect):
    """Catalog constants are written into the statement as literals: the planner folds
    `'{"region":"eu"}'::jsonb` once instead of casting a parameter on every row."""

    def bind(self, value: Any) -> str:
        text = value if isinstance(value, str) else dumps(value)
        return sql.Literal(text).as_string()

    def filter(self, key: str, value: Any) -> str:
        return f"e.properties @> CAST({self.bind(dumps({key: value}))} AS jsonb)"

    def rows(self, connection: sa.Connection, statement: str) -> list[Sequence[Any]]:
        # no parameters (every constant is a literal, which may hold ":2"): psycopg's own cursor
        driver: Any = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute(statement)
            return list(cursor.fetchall())

    def aggregate(self, metric: Metric, condition: str) -> str:
        where = f"FILTER (WHERE {condition})"
        if metric.aggregation == "count":
            return f"count(*) {where}"
        field = self.bind(metric.field)
        number = postgres_number(f"e.properties -> {field}")
        if metric.aggregation == "sum":
            return f"sum({number}) {where}"
        if metric.aggregation == "max":
            return f"max({number}) {where}"
        if metric.aggregation == "unique_count":  # a JSON null is no value, as in the core
            value = f"(e.properties -> {field})"
            return f"count(DISTINCT {value}) FILTER (WHERE {condition} AND jsonb_typeof({value}) <> 'null')"
        present = f"FILTER (WHERE {condition} AND (e.properties ->> {field}) IS NOT NULL)"
        return f'(array_agg({number} ORDER BY e."timestamp" DESC, e.transaction_id DESC) {present})[1]'


class SqliteMetrics(MetricDialect):
    def rows(self, connection: sa.Connection, statement: str) -> list[Sequence[Any]]:
        return [tuple(row) for row in connection.execute(sa.text(statement), self.params)]

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
        path = self.path(metric.field or "")
        kind = f"json_type(e.properties, {path})"
        # A JSON null is no value, as in the core: the aggregates see SQL NULL for it.
        if metric.aggregation == "unique_count":
            return f"count(DISTINCT CASE WHEN {kind} <> 'null' THEN e.properties -> {path} END) {where}"
        value = f"({sqlite_number(kind, f'e.properties -> {path}')})"
        if metric.aggregation == "sum":
            return f"billing_sum({value}) {where}"
        if metric.aggregation == "max":
            return f"billing_max({value}) {where}"
        return f'billing_latest(e."timestamp", e.transaction_id, {value}) {where}'


def postgres_number(json_value: str) -> str:
    """A metered JSON value as `numeric`: a JSON null (like a missing property) is no value;
    the cast of anything else that is not a number fails (`billing.store.unmeterable`)."""
    return f"CAST(NULLIF({json_value}, CAST('null' AS jsonb)) AS numeric)"


def sqlite_number(kind: str, json_value: str) -> str:
    """A metered JSON value as the text of its number (`kind` is its `json_type`): null or
    missing is no value; anything else that is not a number makes `billing_not_a_number` raise."""
    return (
        f"CASE WHEN {kind} IN ('integer', 'real') THEN {json_value} "
        f"WHEN {kind} IS NULL OR {kind} = 'null' THEN NULL ELSE billing_not_a_number({kind}) END"
    )


def sqlite_instant(instant: datetime) -> str:
    """The text SQLAlchemy stores for a UTC instant on SQLite, so comparisons are textual."""
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
