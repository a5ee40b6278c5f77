"""usage rollups: per-customer, per-metric aggregates of 15-minute UTC buckets

Revision ID: 0008
Revises: 0007

Every ingest keeps these current in the transaction that stores the events (see
`billing.store.rollups`); invoice runs read them for segments on the grid.

- `rollup_signatures`: the metric definitions maintained, keyed by a hash of (event_type,
  aggregation, field, filters), not by the metric's code, since a catalog version may change a
  metric's definition under the same code. `through_id`: the greatest `events.id` included.
- `usage_rollups`: per (customer, signature, bucket start): the events the metric applies to and
  the bucket's sum, max or latest value, with the latest value's (timestamp, transaction_id).
- `usage_rollup_values`: the distinct values of `unique_count` metrics per bucket (their
  canonical JSON text; on PostgreSQL a value longer than 512 bytes is kept as `sha256:` and its
  hash, since a btree key is limited in size).

No rollups are built here: the next `billing catalog load` builds those of its metrics.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Plain types, frozen here so that later changes to the models cannot rewrite history.
INSTANT = sa.DateTime(timezone=True)
EXACT = sa.String(80).with_variant(sa.Numeric(), "postgresql")
TRANSACTION_ID = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "rollup_signatures",
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("through_id", sa.BigInteger(), nullable=False),
        sa.Column("built_at", INSTANT, nullable=False),
        sa.PrimaryKeyConstraint("signature", name="pk_rollup_signatures"),
    )
    op.create_table(
        "usage_rollups",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("bucket", INSTANT, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("value", EXACT, nullable=True),
        sa.Column("latest_at", INSTANT, nullable=True),
        sa.Column("latest_id", TRANSACTION_ID, nullable=True),
        sa.PrimaryKeyConstraint("customer_id", "signature", "bucket", name="pk_usage_rollups"),
    )
    op.create_table(
        "usage_rollup_values",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("bucket", INSTANT, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "signature", "bucket", "value", name="pk_usage_rollup_values"),
    )


def downgrade() -> None:
    op.drop_table("usage_rollup_values")
    op.drop_table("usage_rollups")
    op.drop_table("rollup_signatures")
