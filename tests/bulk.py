"""Loading many events fast for tests and benchmarks: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

EventRow = tuple[str, str, str, datetime, str]  # transaction id, customer, type, timestamp, properties JSON
_NOW = datetime(2026, 1, 1, tzinfo=UTC)


def bulk_load_events(engine: Engine, rows: Iterable[EventRow], batch: int = 100_000) -> None:
    """Insert rows straight into `events` (payload hash left blank: not for dedupe tests)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            copy_sql = (
                "COPY events (transaction_id, customer_id, event_type, timestamp, properties, "
                "payload_hash, received_at, late, pending_adjustment) FROM STDIN"
            )
            with cursor.copy(copy_sql) as copy:  # type: ignore[attr-defined]
                for txid, customer, kind, at, props in rows:
                    copy.write_row((txid, customer, kind, at, props, "", _NOW, False, False))
        else:
            sql = (
                "INSERT INTO events (transaction_id, customer_id, event_type, timestamp, properties, "
                "payload_hash, received_at, late, pending_adjustment) VALUES (?, ?, ?, ?, ?, '', ?, 0, 0)"
            )
            now = _NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
            cursor.execute("BEGIN")  # the engine runs the driver in autocommit mode
            chunk = []
            for txid, customer, kind, at, props in rows:
                chunk.append((txid, customer, kind, at.strftime("%Y-%m-%d %H:%M:%S.%f"), props, now))
                if len(chunk) >= batch:
                    cursor.executemany(sql, chunk)
                    chunk = []
            if chunk:
                cursor.executemany(sql, chunk)
        raw.commit()
    finally:
        raw.close()
