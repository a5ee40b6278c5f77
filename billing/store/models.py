"""Tables. Alembic migrations in `billing/store/migrations` create them; these map them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from billing.store.types import BigId, ExactDecimal, JSONDocument, TransactionId, UTCDateTime


class Base(DeclarativeBase):
    metadata = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class CatalogVersion(Base):
    """An immutable catalog, keyed by the hash of its canonical document."""

    __tablename__ = "catalog_versions"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    document: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.Text)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class CustomerRow(Base):
    """A customer as of the active catalog; lets the database answer who exists."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text)
    email: Mapped[str] = mapped_column(sa.Text)
    timezone: Mapped[str] = mapped_column(sa.String(64))
    catalog_version_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_versions.id"))


class ContractRow(Base):
    __tablename__ = "contracts"
    __table_args__ = (sa.UniqueConstraint("customer_id", "position"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(sa.Integer)
    plan_code: Mapped[str] = mapped_column(sa.String(64))
    starts_on: Mapped[date] = mapped_column(sa.Date)
    ends_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    auto_renew: Mapped[bool] = mapped_column(sa.Boolean)
    term_months: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    terms: Mapped[Any] = mapped_column(JSONDocument)  # overrides and credits, as in the catalog


class Event(Base):
    """An accepted usage event; `transaction_id` makes ingestion idempotent."""

    __tablename__ = "events"
    __table_args__ = (sa.Index("ix_events_customer_time", "customer_id", "timestamp"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[str] = mapped_column(TransactionId, unique=True)
    customer_id: Mapped[str] = mapped_column(sa.String(255))
    event_type: Mapped[str] = mapped_column(sa.String(255))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    properties: Mapped[Any] = mapped_column(JSONDocument)
    payload_hash: Mapped[str] = mapped_column(sa.String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    late: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    pending_adjustment: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)


class QuarantinedEvent(Base):
    """A row that was not accepted, with the reason; kept until retried or discarded."""

    __tablename__ = "quarantined_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    transaction_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True, index=True)
    customer_id: Mapped[str | None] = mapped_column(sa.String(255), nullable=True)
    reason: Mapped[str] = mapped_column(sa.String(64), index=True)
    detail: Mapped[str] = mapped_column(sa.Text)
    payload: Mapped[str] = mapped_column(sa.Text)
    source: Mapped[str] = mapped_column(sa.Text)
    line: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="held")  # held | retried | discarded
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # what a retry made of it (accepted | duplicate) or `discarded`, and when (migration 0009)
    resolution: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (sa.Index("ix_quarantined_events_status_id", "status", "id"),)


class QuarantineAction(Base):
    """The audit trail of the quarantine: who retried or discarded a held row, when, why, and
    what came of it (accepted, duplicate, held again with a new reason, discarded)."""

    __tablename__ = "quarantine_actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    quarantined_id: Mapped[int] = mapped_column(BigId, sa.ForeignKey("quarantined_events.id"), index=True)
    action: Mapped[str] = mapped_column(sa.String(16))  # retry | discard
    outcome: Mapped[str] = mapped_column(sa.String(16))  # accepted | duplicate | held | discarded
    reason: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # held again: why
    detail: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    note: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    acted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IngestedFile(Base):
    """The scheduled inbox's ledger: a file's size and content hash once its last chunk was
    committed, and that run's counts (migration 0009)."""

    __tablename__ = "ingested_files"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    path: Mapped[str] = mapped_column(sa.Text, unique=True)
    size: Mapped[int] = mapped_column(sa.BigInteger)
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received: Mapped[int] = mapped_column(sa.Integer)
    accepted: Mapped[int] = mapped_column(sa.Integer)
    duplicates: Mapped[int] = mapped_column(sa.Integer)
    quarantined: Mapped[int] = mapped_column(sa.Integer)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    source: Mapped[str] = mapped_column(sa.Text)
    received: Mapped[int] = mapped_column(sa.Integer)
    accepted: Mapped[int] = mapped_column(sa.Integer)
    duplicates: Mapped[int] = mapped_column(sa.Integer)
    quarantined: Mapped[int] = mapped_column(sa.Integer)
    late: Mapped[int] = mapped_column(sa.Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InvoiceRow(Base):
    """An invoice or a credit note (`kind`). Once finalized the database refuses any change to it
    or its lines but the status moving forward (finalized to paid or void, with `paid_at` or
    `voided_at`), and any deletion (migrations 0003 and 0004)."""

    __tablename__ = "invoices"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "issued_at"),
        # one void per invoice; backfills and remainders may credit it more than once (0007)
        sa.Index(
            "uq_invoices_corrects_void",
            "corrects",
            unique=True,
            postgresql_where=sa.text("reason = 'void'"),
            sqlite_where=sa.text("reason = 'void'"),
        ),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(32), unique=True, nullable=True)
    customer_id: Mapped[str] = mapped_column(sa.String(255), index=True)
    status: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(3))
    timezone: Mapped[str] = mapped_column(sa.String(64))  # the customer's, when it was rated
    boundary: Mapped[int] = mapped_column(sa.Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_on: Mapped[date] = mapped_column(sa.Date)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    subtotal: Mapped[Decimal] = mapped_column(ExactDecimal)
    credits_applied: Mapped[Decimal] = mapped_column(ExactDecimal)
    total: Mapped[Decimal] = mapped_column(ExactDecimal)
    credits: Mapped[Any] = mapped_column(JSONDocument)  # [[grant key, amount], ...]
    fingerprint: Mapped[str] = mapped_column(sa.String(32))
    catalog_version_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_versions.id"))
    due_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    finalized_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    taxes: Mapped[Any] = mapped_column(JSONDocument, default=list)  # [[name, rate, amount], ...] as text
    kind: Mapped[str] = mapped_column(sa.String(16), default="invoice")  # invoice | credit_note
    corrects: Mapped[str | None] = mapped_column(sa.String(32), nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.String(16), nullable=True)  # void, backfill, remainder
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    lines: Mapped[list[InvoiceLineRow]] = relationship(
        back_populates="invoice",
        cascade="all, delete-orphan",
        order_by="InvoiceLineRow.position",
    )


class InvoiceLineRow(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(sa.Integer)
    # what it bills (billing.core.line_keys.LineKey): contract start, period start, charge name
    line_contract: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    line_period: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    line_charge: Mapped[str] = mapped_column(sa.String(128))
    kind: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.Text)
    metric: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tiers: Mapped[Any] = mapped_column(JSONDocument)

    invoice: Mapped[InvoiceRow] = relationship(back_populates="lines")


class BillingCorrection(Base):
    """A difference a backfill found, to be billed as an adjustment line on the customer's next
    invoice; `invoice_id` is set when that invoice is finalized (migration 0006)."""

    __tablename__ = "billing_corrections"
    __table_args__ = (sa.Index("ix_billing_corrections_customer_id_invoice_id", "customer_id", "invoice_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(sa.String(255))
    # the line it corrects (billing.core.line_keys.LineKey): contract start, period start, charge
    line_contract: Mapped[date] = mapped_column(sa.Date)
    line_period: Mapped[date] = mapped_column(sa.Date)
    line_charge: Mapped[str] = mapped_column(sa.String(128))
    description: Mapped[str] = mapped_column(sa.Text)
    metric: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    quantity: Mapped[Decimal] = mapped_column(ExactDecimal)
    amount: Mapped[Decimal] = mapped_column(ExactDecimal)
    currency: Mapped[str] = mapped_column(sa.String(3))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reason: Mapped[str] = mapped_column(sa.String(32))  # backfill
    corrects_invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), nullable=True)
    catalog_version_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_versions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), nullable=True)


class Notification(Base):
    """The send ledger: one row per notification, decided once, so each goes out exactly once.

    `status`: `pending` while a channel is still to deliver, `sent` once every channel has,
    `failed` when a channel gave up after its last try, `skipped` (never delivered: `reason`)."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("customer_id", "kind", "subject", "period"),
        sa.Index("ix_notifications_customer_id_id", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(32))
    subject: Mapped[str] = mapped_column(sa.String(255))
    period: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[Any] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)
    reason: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class NotificationDelivery(Base):
    """One channel's delivery of a notification (email, webhook): its own tries and outcome."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("notification_id", "channel"),
        sa.Index("ix_notification_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(sa.Integer, sa.ForeignKey("notifications.id"))
    channel: Mapped[str] = mapped_column(sa.String(16))  # email | webhook
    status: Mapped[str] = mapped_column(sa.String(16))  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    message_id: Mapped[str | None] = mapped_column(sa.Text, nullable=True)


class LifecycleCalendarRow(Base):
    """The next occurrence of each date-kind track (customer, kind, contract, offset): what the
    lifecycle scan selects by `fires_at`, decides and steps on, without parsing the catalog."""

    __tablename__ = "lifecycle_calendar"
    __table_args__ = (sa.UniqueConstraint("customer_id", "kind", "contract_starts_on", "offset_days"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[str] = mapped_column(sa.String(255))
    kind: Mapped[str] = mapped_column(sa.String(32))
    contract_starts_on: Mapped[date] = mapped_column(sa.Date)
    offset_days: Mapped[int] = mapped_column(sa.Integer)  # 0 for an announcement
    position: Mapped[int] = mapped_column(sa.Integer)  # the occurrence's index in its track
    fires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # local midnight, first day
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)  # local midnight of the event's day
    event_on: Mapped[date | None] = mapped_column(sa.Date, nullable=True)  # one-occurrence tracks
    term_months: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)  # renewals
    renews_until: Mapped[date | None] = mapped_column(sa.Date, nullable=True)  # renewals
    timezone: Mapped[str] = mapped_column(sa.String(64))
    recipient: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[Any] = mapped_column(JSONDocument)


class LifecycleCalendarState(Base):
    """One row: the catalog version the calendar was built from, and how far scans decided."""

    __tablename__ = "lifecycle_calendar_state"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)  # always 1
    catalog_version_id: Mapped[int] = mapped_column(sa.ForeignKey("catalog_versions.id"))
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    scanned_through: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiKey(Base):
    """A bearer key: its SHA-256 hash (unique, so indexed: a key is found by one lookup) and its
    public prefix `bk_<id>`, which holds no character of the secret (see `store.api_keys`)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(16))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Counter(Base):
    """Gap-free sequences (invoice numbers), advanced inside the transaction that uses them."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class InvoiceDocumentRow(Base):
    """A finalized invoice's PDF, rendered once: the bytes emailed, served and printed. The
    database refuses a document for a draft and any change or deletion (migration 0005)."""

    __tablename__ = "invoice_documents"

    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True
    )
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RollupSignature(Base):
    """A metric definition whose rollups are maintained (migration 0008, `billing.store.rollups`):
    keyed by a hash of (event_type, aggregation, field, filters); complete through `through_id`."""

    __tablename__ = "rollup_signatures"

    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    definition: Mapped[str] = mapped_column(sa.Text)
    through_id: Mapped[int] = mapped_column(sa.BigInteger)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsageRollup(Base):
    """One metric definition's aggregate of one customer's events in one 15-minute UTC bucket."""

    __tablename__ = "usage_rollups"

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    events: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    latest_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latest_id: Mapped[str | None] = mapped_column(TransactionId, nullable=True)


class UsageRollupDay(Base):
    """One metric definition's aggregate of one customer's events in one UTC day: the merge of
    the day's 15-minute buckets (migration 0017, `billing.store.rollup_days`)."""

    __tablename__ = "usage_rollup_days"

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    events: Mapped[int] = mapped_column(sa.BigInteger)
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    latest_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latest_id: Mapped[str | None] = mapped_column(TransactionId, nullable=True)


class UsageRollupValue(Base):
    """A distinct value of a `unique_count` metric in a bucket (canonical JSON text)."""

    __tablename__ = "usage_rollup_values"

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, primary_key=True)


class UsageRollupDayValue(Base):
    """A `unique_count` value in one UTC day, with the day's first and last bucket holding it
    (migration 0018, kept by a trigger on `usage_rollup_values`; `billing.store.day_values`)."""

    __tablename__ = "usage_rollup_day_values"

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    day: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    first_bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    last_bucket: Mapped[datetime] = mapped_column(UTCDateTime)


class UsageRollupValueSpan(Base):
    """The first and the last bucket holding a `unique_count` value (migration 0015,
    `billing.store.value_spans`): what makes a segment's distinct count a short read."""

    __tablename__ = "usage_rollup_value_spans"
    __table_args__ = (
        sa.Index("ix_usage_rollup_value_spans_by_last", "customer_id", "signature", "last_bucket"),
    )

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    signature: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    value: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    first_bucket: Mapped[datetime] = mapped_column(UTCDateTime)
    last_bucket: Mapped[datetime] = mapped_column(UTCDateTime)


class SpendEvaluation(Base):
    """What a customer's spend and credit alerts last looked at (migration 0012)."""

    __tablename__ = "spend_evaluations"

    customer_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    through_event_id: Mapped[int] = mapped_column(sa.BigInteger)  # every event up to it was counted
    period_start: Mapped[date | None] = mapped_column(sa.Date, nullable=True)  # the period evaluated
    period_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # its instants,
    period_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # [from, until)
    finalized_documents: Mapped[int] = mapped_column(sa.Integer)  # invoices and credit notes then
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SpendScanMark(Base):
    """The greatest event id the daily scan looked past (row `daily`)."""

    __tablename__ = "spend_scan_marks"

    name: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    through_event_id: Mapped[int] = mapped_column(sa.BigInteger)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    catalog_version: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)  # content hash
