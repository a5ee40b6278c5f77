"""billing corrections: what a backfill found billed wrong, until the next invoice carries it

Revision ID: 0006
Revises: 0005

A backfill never edits a finalized invoice: each difference it corrects is a row here, keyed
like the invoice line it corrects (contract start, period start, charge), with the signed
amount and quantity to add. The customer's next invoice carries every pending row as an
adjustment line, and the statement run when that invoice is finalized sets `invoice_id`: a
row with an invoice is done. `corrects_invoice_id` names the invoice that billed the line.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Plain types, frozen here so that later changes to the models cannot rewrite history.
INSTANT = sa.DateTime(timezone=True)
EXACT = sa.String(80).with_variant(sa.Numeric(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_corrections",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("line_contract", sa.Date(), nullable=False),
        sa.Column("line_period", sa.Date(), nullable=False),
        sa.Column("line_charge", sa.String(128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metric", sa.String(64), nullable=True),
        sa.Column("quantity", EXACT, nullable=False),
        sa.Column("amount", EXACT, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("period_start", INSTANT, nullable=True),
        sa.Column("period_end", INSTANT, nullable=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("corrects_invoice_id", sa.Integer(), nullable=True),
        sa.Column("catalog_version_id", sa.Integer(), nullable=False),
        sa.Column("created_at", INSTANT, nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["corrects_invoice_id"],
            ["invoices.id"],
            name=op.f("fk_billing_corrections_corrects_invoice_id_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_billing_corrections_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["catalog_version_id"],
            ["catalog_versions.id"],
            name=op.f("fk_billing_corrections_catalog_version_id_catalog_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_corrections")),
    )
    op.create_index(
        "ix_billing_corrections_customer_id_invoice_id", "billing_corrections", ["customer_id", "invoice_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_billing_corrections_customer_id_invoice_id", table_name="billing_corrections")
    op.drop_table("billing_corrections")
