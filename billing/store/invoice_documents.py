"""Stored invoice documents: each finalized invoice's PDF, written once and never changed.

Rendering happens outside any billing transaction (a task after the invoice run); what is
stored first is what every later reader gets: the email's attachment, the API and the CLI.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from billing.store.database import dialect_insert
from billing.store.models import InvoiceDocumentRow, InvoiceRow
from billing.store.usage_events import FINALIZED_STATUSES


@dataclass(frozen=True, slots=True)
class InvoiceReference:
    """Where an invoice's document comes from: its row and the catalog version it was rated with."""

    invoice_id: int
    catalog_version_id: int
    number: str | None
    status: str


def find_by_number(connection: sa.Connection, number: str) -> InvoiceReference | None:
    row = connection.execute(_references().where(InvoiceRow.number == number)).first()
    return None if row is None else InvoiceReference(*row)


def find_by_ids(connection: sa.Connection, invoice_ids: list[int]) -> list[InvoiceReference]:
    rows = connection.execute(_references().where(InvoiceRow.id.in_(invoice_ids)).order_by(InvoiceRow.id))
    return [InvoiceReference(*row) for row in rows]


def _references() -> sa.Select[tuple[int, int, str | None, str]]:
    return sa.select(InvoiceRow.id, InvoiceRow.catalog_version_id, InvoiceRow.number, InvoiceRow.status)


def unrendered(connection: sa.Connection) -> list[int]:
    """Ids of finalized invoices (paid and void ones too) without a stored PDF, oldest first."""
    query = (
        sa.select(InvoiceRow.id)
        .where(
            InvoiceRow.status.in_(FINALIZED_STATUSES),
            ~sa.exists().where(InvoiceDocumentRow.invoice_id == InvoiceRow.id),
        )
        .order_by(InvoiceRow.id)
    )
    return list(connection.scalars(query))


def stored_pdf(connection: sa.Connection, invoice_id: int) -> bytes | None:
    return connection.scalar(
        sa.select(InvoiceDocumentRow.pdf).where(InvoiceDocumentRow.invoice_id == invoice_id)
    )


def stored_pdf_for_number(connection: sa.Connection, number: str) -> bytes | None:
    return connection.scalar(
        sa.select(InvoiceDocumentRow.pdf)
        .join(InvoiceRow, InvoiceRow.id == InvoiceDocumentRow.invoice_id)
        .where(InvoiceRow.number == number)
    )


def store_pdf(connection: sa.Connection, invoice_id: int, pdf: bytes, now: datetime) -> bytes:
    """Keep `pdf` as the invoice's document unless one is stored already; return the stored one.

    Two renderings of the same invoice differ in their metadata (creation time), so the first
    stored wins and the other is dropped: everyone gets the same bytes."""
    statement = (
        dialect_insert(connection, InvoiceDocumentRow)
        .values(invoice_id=invoice_id, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), rendered_at=now)
        .on_conflict_do_nothing(index_elements=["invoice_id"])
    )
    connection.execute(statement)
    stored = stored_pdf(connection, invoice_id)
    assert stored is not None
    return stored
