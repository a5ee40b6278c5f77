"""the lifecycle calendar: each date-kind track's next occurrence

Revision ID: 0011
Revises: 0012

`lifecycle_calendar` holds, per customer, date kind, contract and offset (a *track*), the next
occurrence the lifecycle scan has to decide: `fires_at`, the UTC instant of local midnight on
its first day (indexed: a daily scan selects `fires_at < as_of` and nothing else), the event's
instant, and what deciding and rendering it needs (the customer's zone and email, the track's
rule for its next occurrence, the email's constant context). It is rebuilt whenever a catalog
version is saved; a scan steps each row it decides to the following occurrence (renewals run
forever) or deletes it. `lifecycle_calendar_state` (one row) names the catalog version the
calendar was built from and the latest as-of instant through which scans decided
(`scanned_through`), where a rebuild starts each track again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0012"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lifecycle_calendar",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("contract_starts_on", sa.Date(), nullable=False),
        sa.Column("offset_days", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("fires_at", INSTANT, nullable=False),
        sa.Column("event_at", INSTANT, nullable=False),
        sa.Column("event_on", sa.Date(), nullable=True),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("renews_until", sa.Date(), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("context", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_calendar")),
        sa.UniqueConstraint(
            "customer_id",
            "kind",
            "contract_starts_on",
            "offset_days",
            name=op.f("uq_lifecycle_calendar_customer_id_kind_contract_starts_on_offset_days"),
        ),
    )
    op.create_index("ix_lifecycle_calendar_fires_at", "lifecycle_calendar", ["fires_at"])
    op.create_table(
        "lifecycle_calendar_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("catalog_version_id", sa.Integer(), nullable=False),
        sa.Column("built_at", INSTANT, nullable=False),
        sa.Column("scanned_through", INSTANT, nullable=True),
        sa.ForeignKeyConstraint(
            ["catalog_version_id"],
            ["catalog_versions.id"],
            name=op.f("fk_lifecycle_calendar_state_catalog_version_id_catalog_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lifecycle_calendar_state")),
    )


def downgrade() -> None:
    op.drop_table("lifecycle_calendar_state")
    op.drop_index("ix_lifecycle_calendar_fires_at", table_name="lifecycle_calendar")
    op.drop_table("lifecycle_calendar")
