"""TRUNCATE of what was billed is refused on PostgreSQL, as UPDATE and DELETE are (0003, 0016)

Revision ID: 0019
Revises: 0018

The row triggers of 0003 and 0016 keep finalized invoices, their lines, the invoice counter and
usage events from changing or going, but a TRUNCATE fires no row trigger: `TRUNCATE
invoice_lines CASCADE` left finalized invoices without their lines (shown as invoices of 100.00
with no line), which no invoice run notices, since it checks invoice numbers. A statement
trigger before TRUNCATE on each of those tables refuses it. A test database or a benchmark that
empties them on purpose sets `session_replication_role = replica` in that transaction (a
superuser's setting, under which no trigger fires). SQLite has no TRUNCATE: its `DELETE` without
a WHERE fires the row triggers of a table that has them.
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

GUARDED = ("invoices", "invoice_lines", "counters", "events")
REFUSED = (
    "TRUNCATE would remove finalized invoices, their lines, their numbering or the usage they "
    "billed; these are never removed (void an invoice, correct usage with a backfill)"
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    connection.exec_driver_sql(
        f"""
CREATE FUNCTION billing_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: {REFUSED}', TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$
""".replace("%", "%%")
    )
    for table in GUARDED:
        connection.exec_driver_sql(
            f"CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION billing_refuse_truncate()"
        )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table in GUARDED:
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_refuse_truncate ON {table}")
    connection.exec_driver_sql("DROP FUNCTION IF EXISTS billing_refuse_truncate()")
