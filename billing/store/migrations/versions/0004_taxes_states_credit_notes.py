"""invoice taxes, paid and void dates, credit notes

Revision ID: 0004
Revises: 0003

Invoices gain:
- `taxes`: the invoice's tax lines, `[[name, rate, amount], ...]` as decimal text;
- `kind` (`invoice` or `credit_note`) and `corrects`: a credit note's invoice number, unique (an
  invoice is reversed by one credit note at most);
- `paid_at` and `voided_at`: set in the statement that moves a finalized invoice to paid or void.

The immutability triggers of 0003 are replaced by ones that let `paid_at` and `voided_at` change
with the status move (nothing else does: taxes, kind and corrects are frozen like the rest), and
that also refuse a tax amount beyond the currency's minor units, an unknown kind, and a credit
note that does not name its invoice. Columns are added in place (no table rebuild), so SQLite's
other triggers stay as they are.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _previous() -> ModuleType:
    path = Path(__file__).with_name("0003_immutable_invoices.py")
    spec = importlib.util.spec_from_file_location("billing_migration_0003", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


M3 = _previous()
FINALIZED = M3.FINALIZED
STATUSES = M3.STATUSES
KINDS = "('invoice', 'credit_note')"
BAD_KIND = "an invoice kind is invoice or credit_note"
UNLINKED = "a credit note names the invoice it corrects"
INVOICE_COLUMNS = (*M3.INVOICE_COLUMNS, "taxes", "kind", "corrects")
"""What a status move may not change (SQLite): every column but status, updated_at, paid_at and
voided_at."""
MOVING = "'status' - 'updated_at' - 'paid_at' - 'voided_at'"

# -- PostgreSQL --------------------------------------------------------------------------------

POSTGRESQL_GUARD = f"""
CREATE OR REPLACE FUNCTION billing_guard_invoice() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    digits integer;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status <> 'draft' THEN
            RAISE EXCEPTION 'invoice % is %: {M3.DELETED}', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status <> 'draft' THEN
        IF NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void'))
           OR (to_jsonb(NEW) - {MOVING}) <> (to_jsonb(OLD) - {MOVING}) THEN
            RAISE EXCEPTION 'invoice % is %: {M3.CHANGED}', OLD.number, OLD.status
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF NEW.status NOT IN {STATUSES} THEN
        RAISE EXCEPTION '{M3.BAD_STATUS} (got %)', NEW.status USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.kind NOT IN {KINDS} THEN
        RAISE EXCEPTION '{BAD_KIND} (got %)', NEW.kind USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.kind = 'credit_note' AND NEW.corrects IS NULL THEN
        RAISE EXCEPTION '{UNLINKED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.status <> 'draft' AND (NEW.number IS NULL OR NEW.finalized_at IS NULL) THEN
        RAISE EXCEPTION '{M3.UNNUMBERED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    digits := billing_minor_units(NEW.currency);
    IF NEW.subtotal <> round(NEW.subtotal, digits) OR NEW.credits_applied <> round(NEW.credits_applied, digits)
       OR NEW.total <> round(NEW.total, digits) THEN
        RAISE EXCEPTION '{M3.UNROUNDED} (% %: subtotal %, credits_applied %, total %)', digits, NEW.currency,
            NEW.subtotal, NEW.credits_applied, NEW.total USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_array_elements(NEW.taxes) AS tax
               WHERE (tax->>2)::numeric <> round((tax->>2)::numeric, digits)) THEN
        RAISE EXCEPTION '{M3.UNROUNDED} (a tax of % %)', digits, NEW.currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
"""

# -- SQLite ------------------------------------------------------------------------------------

_TAX_AMOUNT = "json_extract(tax.value, '$[2]')"


def _sqlite_invoice_checks() -> str:
    taxes = M3._sqlite_at_minor_units(_TAX_AMOUNT, "NEW.currency")
    return f"""{M3._sqlite_invoice_checks()}
    SELECT RAISE(ABORT, '{BAD_KIND}') WHERE NEW.kind NOT IN {KINDS};
    SELECT RAISE(ABORT, '{UNLINKED}') WHERE NEW.kind = 'credit_note' AND NEW.corrects IS NULL;
    SELECT RAISE(ABORT, '{M3.UNROUNDED}')
        WHERE EXISTS (SELECT 1 FROM json_each(NEW.taxes) AS tax WHERE NOT ({taxes}));"""


_UNCHANGED = " AND ".join(f"NEW.{column} IS OLD.{column}" for column in INVOICE_COLUMNS)

SQLITE_REPLACED = ["invoices_refuse_update", "invoices_check_insert", "invoices_check_update"]


def _sqlite_triggers(unchanged: str, checks: str) -> list[str]:
    return [
        f"""
CREATE TRIGGER invoices_refuse_update BEFORE UPDATE ON invoices
WHEN OLD.status IN {FINALIZED}
    AND NOT (OLD.status = 'finalized' AND NEW.status IN ('paid', 'void') AND {unchanged})
BEGIN SELECT RAISE(ABORT, '{M3.CHANGED}'); END
""",
        f"""
CREATE TRIGGER invoices_check_insert BEFORE INSERT ON invoices
BEGIN {checks}
END
""",
        f"""
CREATE TRIGGER invoices_check_update BEFORE UPDATE ON invoices
WHEN OLD.status = 'draft'
BEGIN {checks}
END
""",
    ]


def _sqlite(unchanged: str, checks: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_REPLACED] + _sqlite_triggers(unchanged, checks)


def upgrade() -> None:
    op.add_column("invoices", sa.Column("taxes", JSON_DOCUMENT, nullable=False, server_default="[]"))
    op.add_column("invoices", sa.Column("kind", sa.String(16), nullable=False, server_default="invoice"))
    op.add_column("invoices", sa.Column("corrects", sa.String(32), nullable=True))
    op.add_column("invoices", sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("invoices", sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("uq_invoices_corrects", "invoices", ["corrects"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        M3._run([POSTGRESQL_GUARD])
    else:
        M3._run(_sqlite(_UNCHANGED, _sqlite_invoice_checks()))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        M3._run([M3.POSTGRESQL_UP[1].replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)])
    else:
        M3._run(_sqlite(M3._UNCHANGED, M3._sqlite_invoice_checks()))
    op.drop_index("uq_invoices_corrects", "invoices")
    for column in ("voided_at", "paid_at", "corrects", "kind", "taxes"):
        op.drop_column("invoices", column)
