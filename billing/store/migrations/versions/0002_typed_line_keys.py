"""typed line keys; each invoice keeps the time zone it was rated in

Revision ID: 0002
Revises: 0001

Invoice lines kept what they bill as one string, "<contract start>/<period start>/<charge>";
it becomes three typed columns (billing.core.line_keys.LineKey), so nothing pairs lines by
string prefix any more. Invoices gain the customer's time zone at rating time: the local days
a person reads are computed from it, whatever later catalogs say.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _parse(key: str) -> tuple[date | None, date | None, str]:
    parts = key.split("/")
    if len(parts) == 2 and parts[0] == "quote":
        return None, None, parts[1]
    if len(parts) != 3:
        raise RuntimeError(f"invoice line key {key!r} is not '<contract>/<period>/<charge>'")
    return date.fromisoformat(parts[0]), date.fromisoformat(parts[1]), parts[2]


def upgrade() -> None:
    with op.batch_alter_table("invoice_lines") as batch:
        batch.add_column(sa.Column("line_contract", sa.Date(), nullable=True))
        batch.add_column(sa.Column("line_period", sa.Date(), nullable=True))
        batch.add_column(sa.Column("line_charge", sa.String(128), nullable=True))
    connection = op.get_bind()
    lines = sa.table(
        "invoice_lines",
        sa.column("id", sa.BigInteger()),
        sa.column("key", sa.String()),
        sa.column("line_contract", sa.Date()),
        sa.column("line_period", sa.Date()),
        sa.column("line_charge", sa.String()),
    )
    rows = connection.execute(sa.select(lines.c.id, lines.c.key)).all()
    for line_id, key in rows:
        contract, period, charge = _parse(key)
        connection.execute(
            lines.update()
            .where(lines.c.id == line_id)
            .values(line_contract=contract, line_period=period, line_charge=charge)
        )
    with op.batch_alter_table("invoice_lines") as batch:
        batch.alter_column("line_charge", existing_type=sa.String(128), nullable=False)
        batch.drop_column("key")

    with op.batch_alter_table("invoices") as batch:
        batch.add_column(sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
    connection.execute(
        sa.text(
            "UPDATE invoices SET timezone = (SELECT c.timezone FROM customers c "
            "WHERE c.id = invoices.customer_id) "
            "WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = invoices.customer_id)"
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("invoices") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("invoice_lines") as batch:
        batch.add_column(sa.Column("key", sa.String(255), nullable=True))
    connection = op.get_bind()
    connection.execute(
        sa.text(
            "UPDATE invoice_lines SET key = CASE WHEN line_contract IS NULL "
            "THEN 'quote/' || line_charge "
            "ELSE CAST(line_contract AS TEXT) || '/' || CAST(line_period AS TEXT) || '/' || line_charge END"
        )
    )
    with op.batch_alter_table("invoice_lines") as batch:
        batch.alter_column("key", existing_type=sa.String(255), nullable=False)
        batch.drop_column("line_charge")
        batch.drop_column("line_period")
        batch.drop_column("line_contract")
