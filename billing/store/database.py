"""Engines and sessions for SQLite (embedded default) and PostgreSQL, and schema upgrades."""

from __future__ import annotations

import functools
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from billing.core.errors import DatabaseNotReady
from billing.core.events import dumps, loads
from billing.core.metering import LatestAccumulator, MaxAccumulator, SumAccumulator

MIGRATIONS = Path(__file__).parent / "migrations"
BILLING_LOCK = 0x62696C6C  # "bill": the advisory lock key shared by ingest and invoice runs


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine whose JSON keeps numbers exact; on SQLite, with exact Decimal aggregates."""
    options: dict[str, Any] = {"json_serializer": dumps, "json_deserializer": loads, **kwargs}
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
    engine = sa.create_engine(url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _prepare_sqlite)
        # The sqlite3 module opens transactions on its own schedule, which breaks SAVEPOINTs;
        # SQLAlchemy's documented remedy: the driver in autocommit, BEGIN emitted here.
        sa.event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    return engine


def _prepare_sqlite(connection: sqlite3.Connection, _record: object) -> None:
    connection.isolation_level = None
    connection.execute("PRAGMA foreign_keys = ON")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = NORMAL")
    connection.create_aggregate("billing_sum", 1, _SqliteSum)  # type: ignore[arg-type]
    connection.create_aggregate("billing_max", 1, _SqliteMax)  # type: ignore[arg-type]
    connection.create_aggregate("billing_latest", 3, _SqliteLatest)  # type: ignore[arg-type]
    connection.create_function("billing_not_a_number", 1, _not_a_number)


def _not_a_number(kind: object) -> None:
    """Metering met a metered value that is not a number (`billing.store.unmeterable`)."""
    raise ValueError(f"a metered value is a JSON {kind}, not a number")


class _SqliteSum(SumAccumulator):
    """`billing_sum(json_number_text)`: the core's exact sum, as a SQLite aggregate."""

    def step(self, value: Any, *_: Any) -> None:
        if value is not None:
            super().step(Decimal(value), None, "")  # type: ignore[arg-type]

    def finalize(self) -> str:
        return f"{self.result():f}"


class _SqliteMax(MaxAccumulator):
    def step(self, value: Any, *_: Any) -> None:
        if value is not None:
            super().step(Decimal(value), None, "")  # type: ignore[arg-type]

    def finalize(self) -> str:
        return f"{self.result():f}"


class _SqliteLatest(LatestAccumulator):
    """`billing_latest(timestamp, transaction_id, json_number_text)`."""

    def step(self, timestamp: Any, transaction_id: Any, value: Any) -> None:  # type: ignore[override]
        if value is not None:
            super().step(Decimal(value), timestamp, transaction_id)

    def finalize(self) -> str:
        return f"{self.result():f}"


def dialect_insert(connection: sa.Connection, table: Any) -> Any:
    """An INSERT with the database's own `on_conflict_do_*` (PostgreSQL and SQLite have both)."""
    module = postgresql if connection.dialect.name == "postgresql" else sqlite
    return module.insert(table)


def one_of(connection: sa.Connection, column: Any, values: list[str]) -> Any:
    """`column IN (values)`: on PostgreSQL one array parameter (`= ANY(...)`), so a chunk of
    2,000 customers is one bound value, not 500 placeholders rendered, sent and parsed on every
    execution; elsewhere the expanding IN."""
    return _in_list(connection.dialect.name, column, None, value=values)


def member_of(dialect: str, column: Any, name: str) -> Any:
    """`one_of` with the list bound at execution (`{name: [...]}`), for a statement built once
    per dialect and kept (building a statement with the ORM's columns costs about a
    millisecond, its execution a fifth of that)."""
    return _in_list(dialect, column, name)


def _in_list(dialect: str, column: Any, name: str | None, **value: Any) -> Any:
    """`column IN :name`, bound now (`value=`) or at execution: one array parameter on
    PostgreSQL, the expanding IN elsewhere."""
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.String), **value))
    return column.in_(sa.bindparam(name, expanding=True, **value))


def lock_billing(connection: sa.Connection) -> None:
    """Serialize writers that decide what is billed (ingest and invoice runs), until commit.

    Ingest decides whether usage is late from the invoices finalized so far; an invoice run
    decides what it bills from the usage stored so far: each must see the other's work whole.
    PostgreSQL: a transaction-scoped advisory lock. SQLite: take the database's write lock now,
    at the start of the transaction, instead of at its first write.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": BILLING_LOCK})
    else:
        connection.execute(sa.text("UPDATE counters SET value = value WHERE 1 = 0"))


def alembic_config(connection: sa.Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate the schema to `revision`; returns the revision the database is at."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
        current = MigrationContext.configure(connection).get_current_revision()
    return current or "base"


@functools.cache
def _migration_scripts() -> Any:
    """The package's migration scripts (read once: about 100 ms)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def schema_head() -> str:
    """The newest migration this version of the code knows."""
    head = _migration_scripts().get_current_head()
    assert head is not None  # the package ships its migrations
    return str(head)


def ensure_ready(engine: Engine) -> None:
    """Refuse to work on a database the migrations have not created, or not brought to this
    version's schema (code upgraded, `billing db upgrade` not run: a missing table would
    otherwise fail the first request or run that needs it), or brought past it (older code)."""
    where = engine.url.render_as_string(hide_password=True)
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            raise DatabaseNotReady(
                f"the database at {where} has no billing schema yet: run `billing db upgrade`"
            )
        version = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    head = schema_head()
    if version == head:
        return
    known = {script.revision for script in _migration_scripts().walk_revisions()}
    if version in known:
        raise DatabaseNotReady(
            f"the database at {where} is at schema {version}, this version of billing needs "
            f"{head}: run `billing db upgrade`"
        )
    raise DatabaseNotReady(
        f"the database at {where} is at schema {version!r}, which this version of billing does "
        f"not know (its newest is {head}): it was migrated by a newer version; run that one"
    )
