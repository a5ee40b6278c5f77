"""spend evaluations: what the spend and credit alerts last looked at

Revision ID: 0012
Revises: 0010

- `spend_evaluations`: one row per customer whose spend or credits were evaluated: the
  greatest event id stored when its spend was last evaluated (`through_event_id`), the period
  it was evaluated in (`period_start`, its first local day), how many finalized invoices and
  credit notes it had when its credits were (`finalized_documents`), and when.
- `spend_scan_marks`: the greatest event id the daily scan has looked past (one row, `daily`):
  the next scan reads only the events stored after it, to find the customers with usage since
  their last evaluation, never the whole table; with the catalog version it covered, so that
  while the catalog is unchanged a scan looks only at customers with new usage or whose
  evaluated period is over, never at every customer with an alert.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

# Plain types, frozen here so that later changes to the models cannot rewrite history.
INSTANT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "spend_evaluations",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("through_event_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_from", INSTANT, nullable=True),
        sa.Column("period_until", INSTANT, nullable=True),
        sa.Column("finalized_documents", sa.Integer(), nullable=False),
        sa.Column("evaluated_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_spend_evaluations")),
    )
    op.create_table(
        "spend_scan_marks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("through_event_id", sa.BigInteger(), nullable=False),
        sa.Column("scanned_at", INSTANT, nullable=False),
        sa.Column("catalog_version", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_spend_scan_marks")),
    )


def downgrade() -> None:
    op.drop_table("spend_scan_marks")
    op.drop_table("spend_evaluations")
