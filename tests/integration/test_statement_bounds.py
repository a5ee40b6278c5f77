"""`statements_bounded` stops a statement that runs past its bound, on SQLite and PostgreSQL,
and leaves the next transaction on the same pooled connection unbounded."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from billing.store.statement_bounds import bounded_snapshot, statements_bounded

SLOW = {
    "postgresql": "SELECT pg_sleep(2)",
    # a counter the SQLite engine steps through a hundred million times
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
    "SELECT count(*) FROM n",
}


def test_a_slow_statement_is_stopped(engine):
    with (
        engine.connect() as connection,
        pytest.raises(sa.exc.OperationalError),
        statements_bounded(connection, 0.05),
    ):
        connection.execute(sa.text(SLOW[engine.dialect.name]))


def test_the_bound_ends_with_its_block(engine):
    with engine.connect() as connection:
        with statements_bounded(connection, 0.05):
            assert connection.execute(sa.text("SELECT 1")).scalar() == 1
        connection.commit()
        quick = "SELECT pg_sleep(0.2)" if engine.dialect.name == "postgresql" else "SELECT 1"
        connection.execute(sa.text(quick))  # past the old bound, and not stopped


def test_a_bounded_snapshot_reads_one_snapshot_without_jit_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("JIT and isolation levels are PostgreSQL's settings")
    with engine.connect() as connection, bounded_snapshot(connection, 3):
        assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "3s"
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"
    with engine.connect() as connection:  # all of it ended with the transaction
        assert connection.exec_driver_sql("SHOW transaction_isolation").scalar() == "read committed"
