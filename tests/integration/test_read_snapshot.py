"""A preview's and the usage answer's reads share one snapshot (`read_snapshot`): on PostgreSQL
a REPEATABLE READ, READ ONLY transaction, so an ingest committing between two of its reads is
seen by none of them; SQLite's BEGIN (WAL) reads one snapshot already. `bounded_snapshot` (the
snapshot and the statement bound in one round trip) holds the same, and bounds the statements."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import pytest
import sqlalchemy as sa

from billing.store.statement_bounds import bounded_snapshot, read_snapshot


def _plain(connection: sa.Connection) -> AbstractContextManager[None]:
    read_snapshot(connection)
    return nullcontext()


def _bounded(connection: sa.Connection) -> AbstractContextManager[None]:
    return bounded_snapshot(connection, 7.0)


OPENINGS = pytest.mark.parametrize("opened", [_plain, _bounded], ids=["read_snapshot", "bounded_snapshot"])
Opening = Callable[[sa.Connection], AbstractContextManager[None]]


@OPENINGS
def test_a_snapshot_does_not_see_what_commits_after_its_first_read(engine, opened: Opening):
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE IF NOT EXISTS snapshot_probe (n INTEGER)"))
        connection.execute(sa.text("DELETE FROM snapshot_probe"))  # each opening's run starts empty
        connection.execute(sa.text("INSERT INTO snapshot_probe VALUES (1)"))
    with engine.connect() as reader, opened(reader):
        first = reader.execute(sa.text("SELECT count(*) FROM snapshot_probe")).scalar_one()
        with engine.begin() as writer:
            writer.execute(sa.text("INSERT INTO snapshot_probe VALUES (2)"))
        second = reader.execute(sa.text("SELECT count(*) FROM snapshot_probe")).scalar_one()
    assert first == second == 1


@OPENINGS
def test_a_snapshot_writes_nothing_on_postgresql(engine, opened: Opening):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; the preview writes nothing by its code")
    with (
        engine.connect() as connection,
        opened(connection),
        pytest.raises(sa.exc.InternalError, match="read-only transaction"),
    ):
        connection.execute(sa.text("CREATE TABLE not_made (n INTEGER)"))


def test_a_bounded_snapshot_bounds_its_statements_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's bound is a progress handler: tests/integration/test_statement_bounds.py")
    with engine.connect() as connection, bounded_snapshot(connection, 7.0):
        assert connection.execute(sa.text("SHOW statement_timeout")).scalar_one() == "7s"
        assert connection.execute(sa.text("SHOW transaction_isolation")).scalar_one() == "repeatable read"
    with engine.connect() as connection:  # SET LOCAL: the next transaction has its default again
        assert connection.execute(sa.text("SHOW statement_timeout")).scalar_one() != "7s"
