"""usage events are append-only in the database: no UPDATE of what an event says, no DELETE

Revision ID: 0016
Revises: 0015

An accepted event is what invoices, rollups, previews and backfills are computed from. The
usage rollups (0008, 0014, 0015) are kept in step by the writer as events are added and know
they hold every stored event by the greatest event id they have taken in: an event changed or
deleted with plain SQL behind the product's back would leave them counting what is no longer
there, so previews, the console and rollup-based invoice runs would quietly disagree with the
raw events. Triggers on PostgreSQL and SQLite refuse, with an error that fails the statement:
- any DELETE of an event (a wrong event is corrected by what the product offers: a backfill
  against the catalog, a credit note; never by removing usage);
- any UPDATE of an event's columns but `pending_adjustment`, and that flag only moving from true
  to false (the late usage a finalized invoice's adjustment line has billed).
An event inserted with plain SQL is not refused: the rollups see an id past the one they hold
and every read falls back to the raw events until the next ingest folds it in. A TRUNCATE
(PostgreSQL) and SQL run with the triggers dropped are not stopped here, as for invoices (0003).

SQLite keeps triggers with their table: a later migration that rebuilds `events` (batch mode
"move and copy") must create them again.
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Messages an operator reads when plain SQL is refused.
DELETED = (
    "a usage event is never deleted: invoices and usage rollups count it (correct usage with a backfill)"
)
CHANGED = (
    "a usage event never changes: only pending_adjustment moves from true to false, "
    "when an invoice bills the late usage"
)

EVENT_COLUMNS = (
    "id", "transaction_id", "customer_id", "event_type", "timestamp", "properties", "payload_hash",
    "received_at", "late",
)  # fmt: skip
"""Every column but `pending_adjustment` (SQLite; on PostgreSQL the trigger compares whole rows
but that flag, so a column added later is frozen too)."""

POSTGRESQL_UP = [
    f"""
CREATE FUNCTION billing_guard_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'usage event % (%): {DELETED}', OLD.id, OLD.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (to_jsonb(NEW) - 'pending_adjustment') IS DISTINCT FROM (to_jsonb(OLD) - 'pending_adjustment')
        OR (NEW.pending_adjustment AND NOT OLD.pending_adjustment) THEN
        RAISE EXCEPTION 'usage event % (%): {CHANGED}', OLD.id, OLD.transaction_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER events_guard BEFORE UPDATE OR DELETE ON events
FOR EACH ROW EXECUTE FUNCTION billing_guard_event()
""",
]

POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS events_guard ON events",
    "DROP FUNCTION IF EXISTS billing_guard_event()",
]

_UNCHANGED = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in EVENT_COLUMNS)

SQLITE_UP = [
    f"""
CREATE TRIGGER events_refuse_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, '{DELETED}'); END
""",
    f"""
CREATE TRIGGER events_refuse_update BEFORE UPDATE ON events
WHEN NOT ({_UNCHANGED}) OR (NEW.pending_adjustment AND NOT OLD.pending_adjustment)
BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END
""",
]

SQLITE_TRIGGERS = ["events_refuse_delete", "events_refuse_update"]


def _run(statements: list[str]) -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    for statement in statements:  # "%" is PL/pgSQL's placeholder, not the driver's
        connection.exec_driver_sql(statement.replace("%", "%%") if postgresql else statement)


def upgrade() -> None:
    _run(POSTGRESQL_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(POSTGRESQL_DOWN)
    else:
        _run([f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS])
