"""rollup days: the usage rollups per UTC day, so a month's read is a row per day, not 2,900 buckets

Revision ID: 0017
Revises: 0016

A preview summed, per metric, every 15-minute bucket of the period: 13,000 rows for five metrics
late in a month, most of its database time, growing with the days of the period.
`usage_rollup_days` keeps per (customer, signature, UTC day) the merge of the day's buckets
(`billing.store.rollup_days`); a segment reads its whole UTC days there and its edge
quarter-hours from `usage_rollups`.

The days are built here from the buckets already stored, per maintained signature, with the
merge of its aggregation (SQLite's exact `billing_*` aggregates, which the application's engine
registers); the rollup writer keeps them in step from then on, in the same transaction.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# Plain types, frozen here, as in 0008.
INSTANT = sa.DateTime(timezone=True)
EXACT = sa.String(80).with_variant(sa.Numeric(), "postgresql")
TRANSACTION_ID = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")

_PG_LATEST = "ORDER BY latest_at DESC, latest_id DESC) FILTER (WHERE value IS NOT NULL))[1]"
_PG_MERGED = {
    "sum": ("sum(value)", "NULL", "NULL"),
    "max": ("max(value)", "NULL", "NULL"),
    "latest": tuple(f"(array_agg({c} {_PG_LATEST}" for c in ("value", "latest_at", "latest_id")),
}
_SQLITE_KEY = "max(CASE WHEN value IS NOT NULL THEN latest_at || char(9) || latest_id END)"
_SQLITE_MERGED = {
    "sum": ("billing_sum(value)", "NULL", "NULL"),
    "max": ("CASE WHEN count(value) > 0 THEN billing_max(value) END", "NULL", "NULL"),
    "latest": (
        "CASE WHEN count(value) > 0 THEN billing_latest(latest_at, latest_id, value) END",
        f"substr({_SQLITE_KEY}, 1, 26)",
        f"substr({_SQLITE_KEY}, 28)",
    ),
}


def upgrade() -> None:
    op.create_table(
        "usage_rollup_days",
        sa.Column("customer_id", sa.String(255), nullable=False),
        sa.Column("signature", sa.String(32), nullable=False),
        sa.Column("day", INSTANT, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("value", EXACT, nullable=True),
        sa.Column("latest_at", INSTANT, nullable=True),
        sa.Column("latest_id", TRANSACTION_ID, nullable=True),
        sa.PrimaryKeyConstraint("customer_id", "signature", "day", name="pk_usage_rollup_days"),
    )
    connection = op.get_bind()
    postgres = connection.dialect.name == "postgresql"
    if postgres:
        day = "date_bin('24 hours', bucket, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    else:
        day = "substr(bucket, 1, 10) || ' 00:00:00.000000'"
    for signature, definition in connection.execute(sa.text("SELECT signature, definition FROM rollup_signatures")):
        aggregation = json.loads(definition)["aggregation"]
        merged = (_PG_MERGED if postgres else _SQLITE_MERGED).get(aggregation, ("NULL", "NULL", "NULL"))
        value, latest_at, latest_id = merged
        connection.execute(
            sa.text(
                "INSERT INTO usage_rollup_days (customer_id, signature, day, events, value, latest_at, latest_id) "
                f"SELECT customer_id, signature, {day}, sum(events), {value}, {latest_at}, {latest_id} "
                f"FROM usage_rollups WHERE signature = :signature GROUP BY customer_id, signature, {day}"
            ),
            {"signature": signature},
        )


def downgrade() -> None:
    op.drop_table("usage_rollup_days")
