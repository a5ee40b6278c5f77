"""invoice documents: each finalized invoice's PDF, stored once, never changed

Revision ID: 0005
Revises: 0003

`invoice_documents` keeps the PDF rendered for a finalized invoice (and its SHA-256), so the
email, the API and the CLI hand out the same bytes. Triggers on PostgreSQL and SQLite refuse a
document for a draft, and any UPDATE or DELETE of a stored one (a finalized invoice is never
deleted either; the cascade is for SQL run with the triggers off, as `invoice_lines` has).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANGED = "a stored invoice document never changes"
DRAFT = "only a finalized invoice has a stored document (a draft is rendered on demand)"

POSTGRESQL_UP = [
    f"""
CREATE FUNCTION billing_guard_invoice_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        RAISE EXCEPTION '{CHANGED}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'draft' THEN
        RAISE EXCEPTION '{DRAFT}' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$
""",
    """
CREATE TRIGGER invoice_documents_guard BEFORE INSERT OR UPDATE OR DELETE ON invoice_documents
FOR EACH ROW EXECUTE FUNCTION billing_guard_invoice_document()
""",
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS invoice_documents_guard ON invoice_documents",
    "DROP FUNCTION IF EXISTS billing_guard_invoice_document()",
]

SQLITE_UP = [
    f"""
CREATE TRIGGER invoice_documents_refuse_update BEFORE UPDATE ON invoice_documents
BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END
""",
    f"""
CREATE TRIGGER invoice_documents_refuse_delete BEFORE DELETE ON invoice_documents
BEGIN SELECT RAISE(ABORT, '{CHANGED}'); END
""",
    f"""
CREATE TRIGGER invoice_documents_refuse_draft BEFORE INSERT ON invoice_documents
WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'draft'
BEGIN SELECT RAISE(ABORT, '{DRAFT}'); END
""",
]
SQLITE_TRIGGERS = [
    "invoice_documents_refuse_update",
    "invoice_documents_refuse_delete",
    "invoice_documents_refuse_draft",
]


def upgrade() -> None:
    op.create_table(
        "invoice_documents",
        sa.Column(
            "invoice_id",
            sa.Integer,
            sa.ForeignKey("invoices.id", name="fk_invoice_documents_invoice_id_invoices", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pdf", sa.LargeBinary, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name="pk_invoice_documents"),
    )
    for statement in POSTGRESQL_UP if op.get_bind().dialect.name == "postgresql" else SQLITE_UP:
        op.get_bind().exec_driver_sql(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        statements = POSTGRESQL_DOWN
    else:
        statements = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
    for statement in statements:
        op.get_bind().exec_driver_sql(statement)
    op.drop_table("invoice_documents")
