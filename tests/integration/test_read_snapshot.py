"""A preview's and the usage answer's reads share one snapshot (`read_snapshot`): on PostgreSQL
a REPEATABLE READ, READ ONLY transaction, so an ingest committing between two of its reads is
seen by none of them; SQLite's BEGIN (WAL) reads one snapshot already."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from billing.store.statement_bounds import read_snapshot


def test_a_snapshot_does_not_see_what_commits_after_its_first_read(engine):
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE snapshot_probe (n INTEGER)"))
        connection.execute(sa.text("INSERT INTO snapshot_probe VALUES (1)"))
    with engine.connect() as reader:
        read_snapshot(reader)
        first = reader.execute(sa.text("SELECT count(*) FROM snapshot_probe")).scalar_one()
        with engine.begin() as writer:
            writer.execute(sa.text("INSERT INTO snapshot_probe VALUES (2)"))
        second = reader.execute(sa.text("SELECT count(*) FROM snapshot_probe")).scalar_one()
    assert first == second == 1


def test_a_snapshot_writes_nothing_on_postgresql(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; the preview writes nothing by its code")
    with engine.connect() as connection:
        read_snapshot(connection)
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            connection.execute(sa.text("CREATE TABLE not_made (n INTEGER)"))
