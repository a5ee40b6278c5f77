"""Sending many customers' segments to one metering query, and streaming its rows back: the
plumbing the raw-event metering (`metering_sql`) and the rollup reads (`rollup_reads`) share.

- PostgreSQL: one JSON document carries the segments, `[customer, start, end]` each (far cheaper
  to send than three typed arrays; `WITH ORDINALITY` numbers them in order, so no sort is
  needed), and psycopg's `stream()` hands rows over in small batches as the server sends them
  (libpq chunked-rows mode) instead of after the whole result: rating overlaps the query.
- SQLite: the segments go into a temporary table the query joins.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from billing.store.metric_dialects import sqlite_instant

SegmentKey = tuple[str, datetime, datetime]  # customer, start, end (UTC, half-open)
STREAM_BATCH = 32  # rows per network batch while streaming results from PostgreSQL


def stream_postgres(
    connection: sa.Connection, statement: str, segments: Sequence[SegmentKey]
) -> Iterator[Sequence[Any]]:
    """Rows of `statement`, whose `%(segments)s` is the segments' JSON document."""
    params = {"segments": json.dumps([[c, s.isoformat(), e.isoformat()] for c, s, e in segments])}
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        yield from cursor.stream(statement, params, size=STREAM_BATCH)


def fill_sqlite_segments(connection: sa.Connection, table: str, segments: Sequence[SegmentKey]) -> None:
    """The temporary table `table` (n, customer_id, starts, ends) holding just these segments."""
    connection.execute(
        sa.text(
            f"CREATE TEMP TABLE IF NOT EXISTS {table} "
            "(n INTEGER PRIMARY KEY, customer_id TEXT, starts TEXT, ends TEXT)"
        )
    )
    connection.execute(sa.text(f"DELETE FROM {table}"))
    connection.execute(
        sa.text(f"INSERT INTO {table} VALUES (:n, :customer_id, :starts, :ends)"),
        [
            {"n": n, "customer_id": c, "starts": sqlite_instant(s), "ends": sqlite_instant(e)}
            for n, (c, s, e) in enumerate(segments)
        ],
    )
