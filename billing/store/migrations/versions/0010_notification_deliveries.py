"""one delivery per channel for each notification

Revision ID: 0010
Revises: 0009

A notification is decided once (`notifications`, unique by customer, kind, subject and period)
and delivered on each channel it goes out on (email, and a webhook when one is configured):
`notification_deliveries` holds one row per (notification, channel) with that channel's status
(`pending`, `sending`, `sent`, `failed` after the last try), attempts, when the next try may
start (`next_attempt_at`, the retry backoff), the claim, the provider's message id and the last
error. The email state each existing notification had moves there.

`notifications.status` becomes the notification's own: `pending` while a channel is still to
deliver, `sent` once every channel has, `failed` when a channel gave up, `skipped` for a reminder
a late scan found after the event (never delivered; `reason` says why). `due_on` is the
customer's local day the notification was decided on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

INSTANT = sa.DateTime(timezone=True)
MOVED = ("attempts", "last_error", "message_id", "claimed_at", "sent_at")


def upgrade() -> None:
    op.create_table(
        "notification_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", INSTANT, nullable=True),
        sa.Column("claimed_at", INSTANT, nullable=True),
        sa.Column("sent_at", INSTANT, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_notification_deliveries_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_deliveries")),
        sa.UniqueConstraint(
            "notification_id", "channel", name=op.f("uq_notification_deliveries_notification_id_channel")
        ),
    )
    op.create_index(
        "ix_notification_deliveries_status_next_attempt_at",
        "notification_deliveries",
        ["status", "next_attempt_at"],
    )
    op.execute(
        "INSERT INTO notification_deliveries (notification_id, channel, status, attempts, claimed_at,"
        " sent_at, last_error, message_id)"
        " SELECT id, 'email', status, attempts, claimed_at, sent_at, last_error, message_id FROM notifications"
    )
    op.execute("UPDATE notifications SET status = 'pending' WHERE status = 'sending'")
    with op.batch_alter_table("notifications") as batch:
        for column in MOVED:
            batch.drop_column(column)
        batch.add_column(sa.Column("due_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text(), nullable=True))
    op.create_index("ix_notifications_customer_id_id", "notifications", ["customer_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_customer_id_id", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("reason")
        batch.drop_column("due_on")
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("message_id", sa.Text(), nullable=True))
        batch.add_column(sa.Column("claimed_at", INSTANT, nullable=True))
        batch.add_column(sa.Column("sent_at", INSTANT, nullable=True))
    op.execute(
        "UPDATE notifications SET"
        " status = COALESCE((SELECT d.status FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email'), notifications.status),"
        " attempts = COALESCE((SELECT d.attempts FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email'), 0),"
        " last_error = (SELECT d.last_error FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email'),"
        " message_id = (SELECT d.message_id FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email'),"
        " claimed_at = (SELECT d.claimed_at FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email'),"
        " sent_at = (SELECT d.sent_at FROM notification_deliveries d"
        "   WHERE d.notification_id = notifications.id AND d.channel = 'email')"
    )
    op.drop_index("ix_notification_deliveries_status_next_attempt_at", table_name="notification_deliveries")
    op.drop_table("notification_deliveries")
