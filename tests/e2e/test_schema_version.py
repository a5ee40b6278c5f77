"""Code upgraded but the schema not (or the other way round): every command refuses in one line
naming both revisions and what to run, instead of failing later on a missing table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from billing.store.database import alembic_config, create_engine, schema_head
from tests.e2e.test_cli import billing, fresh_database, one_line_refusal  # noqa: F401 (a fixture)


def _engine(env: dict[str, str]) -> sa.Engine:
    return create_engine(env["BILLING_DATABASE_URL"])


def test_a_schema_behind_the_code_asks_for_db_upgrade(fresh_database):  # noqa: F811
    engine = _engine(fresh_database)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "-1")
        behind = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    assert behind != schema_head()
    message = (
        f"is at schema {behind}, this version of billing needs {schema_head()}: run `billing db upgrade`"
    )
    one_line_refusal(billing("invoices", "list", env=fresh_database), message)
    upgraded = billing("db", "upgrade", env=fresh_database)
    assert upgraded.returncode == 0, upgraded.stderr
    assert billing("invoices", "list", env=fresh_database).returncode == 0


def test_a_schema_past_the_code_is_refused(fresh_database):  # noqa: F811
    with _engine(fresh_database).begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    one_line_refusal(
        billing("invoices", "list", env=fresh_database),
        "which this version of billing does not know",
    )
