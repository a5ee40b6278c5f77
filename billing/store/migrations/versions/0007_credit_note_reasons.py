"""credit note reasons: an invoice may be corrected by several credit notes, voided by one

Revision ID: 0007
Revises: 0006

A credit note now says why it was issued (`reason`):
- `void`: it reverses what its invoice still bills (SPEC §8a), one per invoice at most;
- `backfill`: it credits what a backfill found the invoice overcharged;
- `remainder`: it carries the negative lines an invoice could not (an invoice total never goes
  below zero).

The unique index on `corrects` (0004) becomes a partial one, on void credit notes only. Credit
notes issued before this migration were all voids. The reason is frozen like every other column:
on PostgreSQL the 0004 trigger compares whole rows already; on SQLite `invoices_refuse_update`
names the columns it freezes, so it is recreated with `reason` among them. Indexes are created and
dropped in place: no table rebuild, so no trigger is lost and no line is cascade-deleted.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

VOIDS = "reason = 'void'"


def _migration(name: str) -> ModuleType:
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"billing_migration_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M3 = _migration("0003_immutable_invoices.py")
M4 = _migration("0004_taxes_states_credit_notes.py")


def _sqlite_refuse_update(columns: tuple[str, ...]) -> list[str]:
    unchanged = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in columns)
    return [
        "DROP TRIGGER IF EXISTS invoices_refuse_update",
        f"""
CREATE TRIGGER invoices_refuse_update BEFORE UPDATE ON invoices
WHEN OLD.status IN {M3.FINALIZED}
    AND NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void') AND {unchanged})
BEGIN SELECT RAISE(ABORT, '{M3.CHANGED}'); END
""",
    ]


def _name_existing_voids() -> None:
    """Every credit note stored so far is a void's: say so, past the guard that freezes them."""
    postgresql = op.get_bind().dialect.name == "postgresql"
    name_them = "UPDATE invoices SET reason = 'void' WHERE kind = 'credit_note'"
    if postgresql:
        M3._run(["ALTER TABLE invoices DISABLE TRIGGER invoices_guard", name_them])
        M3._run(["ALTER TABLE invoices ENABLE TRIGGER invoices_guard"])
    else:
        M3._run(["DROP TRIGGER IF EXISTS invoices_refuse_update", name_them])


def upgrade() -> None:
    op.add_column("invoices", sa.Column("reason", sa.String(16), nullable=True))
    _name_existing_voids()
    op.drop_index("uq_invoices_corrects", "invoices")
    op.create_index(
        "uq_invoices_corrects_void",
        "invoices",
        ["corrects"],
        unique=True,
        postgresql_where=sa.text(VOIDS),
        sqlite_where=sa.text(VOIDS),
    )
    if op.get_bind().dialect.name == "sqlite":
        M3._run(_sqlite_refuse_update((*M4.INVOICE_COLUMNS, "reason")))


def downgrade() -> None:
    op.drop_index("uq_invoices_corrects_void", "invoices")
    op.create_index("uq_invoices_corrects", "invoices", ["corrects"], unique=True)
    if op.get_bind().dialect.name == "sqlite":
        M3._run(_sqlite_refuse_update(M4.INVOICE_COLUMNS))
    op.drop_column("invoices", "reason")
