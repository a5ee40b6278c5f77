"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Plain types, frozen here so that later changes to the models cannot rewrite history.
INSTANT = sa.DateTime(timezone=True)  # stored in UTC; naive ISO text on SQLite
EXACT = sa.String(80).with_variant(sa.Numeric(), "postgresql")  # SQLite numbers are floats
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# Byte order on PostgreSQL, as on SQLite and in Python: `latest` breaks ties on this column.
TRANSACTION_ID = sa.String(255).with_variant(sa.String(255, collation="C"), "postgresql")

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', INSTANT, nullable=False),
    sa.Column('revoked_at', INSTANT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    sa.UniqueConstraint('name', name=op.f('uq_api_keys_name'))
    )
    op.create_table('catalog_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('loaded_at', INSTANT, nullable=False),
    sa.Column('activated_at', INSTANT, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_catalog_versions')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_catalog_versions_content_hash'))
    )
    with op.batch_alter_table('catalog_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_catalog_versions_activated_at'), ['activated_at'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('transaction_id', TRANSACTION_ID, nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=255), nullable=False),
    sa.Column('timestamp', INSTANT, nullable=False),
    sa.Column('properties', JSON_DOCUMENT, nullable=False),
    sa.Column('payload_hash', sa.String(length=32), nullable=False),
    sa.Column('received_at', INSTANT, nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('pending_adjustment', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('transaction_id', name=op.f('uq_events_transaction_id'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_customer_time', ['customer_id', 'timestamp'], unique=False)
        batch_op.create_index(batch_op.f('ix_events_pending_adjustment'), ['pending_adjustment'], unique=False)

    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('received', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('quarantined', sa.Integer(), nullable=False),
    sa.Column('late', sa.Integer(), nullable=False),
    sa.Column('started_at', INSTANT, nullable=False),
    sa.Column('finished_at', INSTANT, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_runs'))
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('period', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.Text(), nullable=False),
    sa.Column('context', JSON_DOCUMENT, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('message_id', sa.Text(), nullable=True),
    sa.Column('created_at', INSTANT, nullable=False),
    sa.Column('claimed_at', INSTANT, nullable=True),
    sa.Column('sent_at', INSTANT, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
    sa.UniqueConstraint('customer_id', 'kind', 'subject', 'period', name=op.f('uq_notifications_customer_id_kind_subject_period'))
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_status'), ['status'], unique=False)

    op.create_table('quarantined_events',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('transaction_id', sa.String(length=255), nullable=True),
    sa.Column('customer_id', sa.String(length=255), nullable=True),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('received_at', INSTANT, nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quarantined_events')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_quarantined_events_fingerprint'))
    )
    with op.batch_alter_table('quarantined_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quarantined_events_reason'), ['reason'], unique=False)
        batch_op.create_index(batch_op.f('ix_quarantined_events_transaction_id'), ['transaction_id'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('email', sa.Text(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('catalog_version_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['catalog_version_id'], ['catalog_versions.id'], name=op.f('fk_customers_catalog_version_id_catalog_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('boundary', sa.Integer(), nullable=False),
    sa.Column('issued_at', INSTANT, nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('period_start', INSTANT, nullable=False),
    sa.Column('period_end', INSTANT, nullable=False),
    sa.Column('subtotal', EXACT, nullable=False),
    sa.Column('credits_applied', EXACT, nullable=False),
    sa.Column('total', EXACT, nullable=False),
    sa.Column('credits', JSON_DOCUMENT, nullable=False),
    sa.Column('fingerprint', sa.String(length=32), nullable=False),
    sa.Column('catalog_version_id', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('finalized_at', INSTANT, nullable=True),
    sa.Column('updated_at', INSTANT, nullable=False),
    sa.ForeignKeyConstraint(['catalog_version_id'], ['catalog_versions.id'], name=op.f('fk_invoices_catalog_version_id_catalog_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('customer_id', 'issued_at', name=op.f('uq_invoices_customer_id_issued_at')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_customer_id'), ['customer_id'], unique=False)

    op.create_table('contracts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.String(length=255), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('plan_code', sa.String(length=64), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('ends_on', sa.Date(), nullable=True),
    sa.Column('auto_renew', sa.Boolean(), nullable=False),
    sa.Column('term_months', sa.Integer(), nullable=True),
    sa.Column('terms', JSON_DOCUMENT, nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_contracts_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contracts')),
    sa.UniqueConstraint('customer_id', 'position', name=op.f('uq_contracts_customer_id_position'))
    )
    op.create_table('invoice_lines',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('metric', sa.String(length=64), nullable=True),
    sa.Column('quantity', EXACT, nullable=False),
    sa.Column('amount', EXACT, nullable=False),
    sa.Column('period_start', INSTANT, nullable=True),
    sa.Column('period_end', INSTANT, nullable=True),
    sa.Column('tiers', JSON_DOCUMENT, nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    op.drop_table('contracts')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoices_customer_id'))

    op.drop_table('invoices')
    op.drop_table('customers')
    with op.batch_alter_table('quarantined_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quarantined_events_transaction_id'))
        batch_op.drop_index(batch_op.f('ix_quarantined_events_reason'))

    op.drop_table('quarantined_events')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status'))

    op.drop_table('notifications')
    op.drop_table('ingest_runs')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_pending_adjustment'))
        batch_op.drop_index('ix_events_customer_time')

    op.drop_table('events')
    op.drop_table('counters')
    with op.batch_alter_table('catalog_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_catalog_versions_activated_at'))

    op.drop_table('catalog_versions')
    op.drop_table('api_keys')
