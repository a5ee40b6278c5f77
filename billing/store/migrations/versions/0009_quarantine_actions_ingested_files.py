"""workable quarantine and the inbox ledger

Revision ID: 0009
Revises: 0008

- `quarantined_events` says what became of a row: `status` is `held`, `retried` (it was
  ingested again and is now an accepted event or a duplicate: `resolution`) or `discarded`, with
  `resolved_at`. An index on (`status`, `id`) serves the newest-first listing of held rows.
- `quarantine_actions` is the audit trail: one row per retry or discard of a quarantined row,
  who did it, when, why (a note) and the outcome (accepted, duplicate, held again with a reason,
  discarded).
- `ingested_files` is the scheduled inbox's ledger: one row per file path, its size and SHA-256
  when its last chunk was committed, and that run's counts. An unchanged file is skipped; a file
  whose content changed after it was ingested is reported, not read again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Plain types, frozen here so that later changes to the models cannot rewrite history.
INSTANT = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("quarantined_events") as batch:
        batch.add_column(sa.Column("resolution", sa.String(16), nullable=True))
        batch.add_column(sa.Column("resolved_at", INSTANT, nullable=True))
    op.create_index("ix_quarantined_events_status_id", "quarantined_events", ["status", "id"])
    op.create_table(
        "quarantine_actions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("quarantined_id", BIG_ID, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("acted_at", INSTANT, nullable=False),
        sa.ForeignKeyConstraint(
            ["quarantined_id"],
            ["quarantined_events.id"],
            name=op.f("fk_quarantine_actions_quarantined_id_quarantined_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_actions")),
    )
    op.create_index("ix_quarantine_actions_quarantined_id", "quarantine_actions", ["quarantined_id"])
    op.create_table(
        "ingested_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("ingested_at", INSTANT, nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingested_files")),
        sa.UniqueConstraint("path", name=op.f("uq_ingested_files_path")),
    )


def downgrade() -> None:
    op.drop_table("ingested_files")
    op.drop_index("ix_quarantine_actions_quarantined_id", table_name="quarantine_actions")
    op.drop_table("quarantine_actions")
    op.drop_index("ix_quarantined_events_status_id", table_name="quarantined_events")
    with op.batch_alter_table("quarantined_events") as batch:
        batch.drop_column("resolved_at")
        batch.drop_column("resolution")
