"""rollup day values: each unique_count value once per UTC day, so a day's distinct count is a short read

Revision ID: 0018
Revises: 0017

The console's usage by local day counted each day's distinct values from every (bucket, value)
row of `usage_rollup_values`: 161,000 rows for a month of 1,000 users at 1,000,000 events.
`usage_rollup_day_values` keeps one row per (customer, signature, UTC day, value) with the first
and the last bucket of that day holding the value (`billing.store.day_values`): a month is a row
per value and day (about 28,000 there).

The rows are built here from the values already stored, and kept in step by a trigger on
`usage_rollup_values` (a statement-level one on PostgreSQL, reading the rows the statement
inserted; a row-level one on SQLite): every write path (ingest, a catalog building the rollups of
a new definition, late events) inserts there, and a value already in a bucket is not inserted
again, so a day's row only ever widens. SQLite keeps triggers with their table: a later
migration that rebuilds `usage_rollup_values` (batch mode "move and copy") must create it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True)  # frozen here, as in 0008
TABLE = "usage_rollup_day_values"
TRIGGER = "usage_rollup_values_by_day"
_PG_DAY = "date_bin('24 hours', {bucket}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
_SQLITE_DAY = "substr({bucket}, 1, 10) || ' 00:00:00.000000'"
_COLUMNS = "customer_id, signature, day, value, first_bucket, last_bucket"

POSTGRESQL_UP = [
    f"""
CREATE FUNCTION billing_add_day_values() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} AS x ({_COLUMNS})
    SELECT customer_id, signature, {_PG_DAY.format(bucket="bucket")}, value, min(bucket), max(bucket)
    FROM added
    GROUP BY 1, 2, 3, 4
    ON CONFLICT (customer_id, signature, day, value) DO UPDATE
    SET first_bucket = LEAST(x.first_bucket, excluded.first_bucket),
        last_bucket = GREATEST(x.last_bucket, excluded.last_bucket);
    RETURN NULL;
END $$
""",
    f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON usage_rollup_values
REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION billing_add_day_values()
""",
]

POSTGRESQL_DOWN = [f"DROP TRIGGER IF EXISTS {TRIGGER} ON usage_rollup_values", "DROP FUNCTION IF EXISTS billing_add_day_values()"]

SQLITE_UP = [
    f"""
CREATE TRIGGER {TRIGGER} AFTER INSERT ON usage_rollup_values
BEGIN
    INSERT INTO {TABLE} ({_COLUMNS})
    VALUES (NEW.customer_id, NEW.signature, {_SQLITE_DAY.format(bucket="NEW.bucket")}, NEW.value, NEW.bucket, NEW.bucket)
    ON CONFLICT (customer_id, signature, day, value) DO UPDATE
    SET first_bucket = min(first_bucket, excluded.first_bucket),
        last_bucket = max(last_bucket, excluded.last_bucket);
END
""",
]


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("day", INSTANT, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("first_bucket", INSTANT, nullable=False),
        sa.Column("last_bucket", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "signature", "day", "value", name="pk_usage_rollup_day_values"),
    )
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    day = (_PG_DAY if postgres else _SQLITE_DAY).format(bucket="bucket")
    connection.execute(
        sa.text(
            f"INSERT INTO {TABLE} ({_COLUMNS}) SELECT customer_id, signature, {day}, value, min(bucket), max(bucket) "
            f"FROM usage_rollup_values GROUP BY customer_id, signature, {day}, value"
        )
    )
    for statement in POSTGRESQL_UP if postgres else SQLITE_UP:  # "%" is no placeholder here
        connection.exec_driver_sql(statement)


def downgrade() -> None:
    connection = op.get_bind()
    for statement in POSTGRESQL_DOWN if connection.dialect.name == "postgresql" else [f"DROP TRIGGER IF EXISTS {TRIGGER}"]:
        connection.exec_driver_sql(statement)
    op.drop_table(TABLE)
