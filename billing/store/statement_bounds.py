"""A time bound on the statements of one transaction, so a request cannot hold the database.

PostgreSQL: `SET LOCAL statement_timeout`, ended with the transaction; each statement past it
fails with `QueryCanceled`. SQLite has no such setting: a progress handler interrupts whatever
statement runs once the block's deadline has passed (`sqlite3.OperationalError: interrupted`),
so there the bound is on the whole block.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

_SQLITE_CHECK_EVERY = 10_000  # virtual machine instructions between two looks at the clock


def read_snapshot(connection: sa.Connection) -> None:
    """Make the transaction just begun on `connection` read one snapshot, read only: on
    PostgreSQL REPEATABLE READ (each statement would otherwise see what committed before it, so
    an ingest between two reads could leave them disagreeing); SQLite's transaction (BEGIN, WAL)
    reads one snapshot already. Call it before any other statement of the transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))


@contextmanager
def bounded_snapshot(connection: sa.Connection, seconds: float) -> Iterator[None]:
    """`read_snapshot` and `statements_bounded` at once, on a transaction just begun: on
    PostgreSQL both settings, and no JIT compilation, go in one round trip (a preview makes it
    on every request)."""
    if connection.dialect.name != "postgresql":
        read_snapshot(connection)
        with statements_bounded(connection, seconds):
            yield
        return
    milliseconds = max(1, round(seconds * 1000))
    connection.exec_driver_sql(  # no parameters: psycopg sends the statements as one query
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY; "
        f"SET LOCAL statement_timeout = {int(milliseconds)}; "
        # A request's reads are short; the planner's estimates for the rollups' probes can
        # still pass `jit_above_cost`, and compiling them costs more (10 ms and up) than they run.
        "SET LOCAL jit = off"
    )
    yield


@contextmanager
def statements_bounded(connection: sa.Connection, seconds: float) -> Iterator[None]:
    """Until the block ends, statements on `connection` are stopped past `seconds`; on
    PostgreSQL the block must be inside one transaction (SQLAlchemy begins one on first use)."""
    milliseconds = max(1, round(seconds * 1000))
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text(f"SET LOCAL statement_timeout = {milliseconds}"))
        yield
        return
    driver = connection.connection.driver_connection
    deadline = time.monotonic() + milliseconds / 1000

    def past_deadline() -> int:
        return 1 if time.monotonic() > deadline else 0

    driver.set_progress_handler(past_deadline, _SQLITE_CHECK_EVERY)  # type: ignore[union-attr]
    try:
        yield
    finally:
        driver.set_progress_handler(None, 0)  # type: ignore[union-attr]
