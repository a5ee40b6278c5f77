"""Invoice documents: render each finalized invoice's PDF once, and hand out documents.

A PDF is rendered outside the transaction that finalized its invoice (`render_pdfs`, run by
a task on chunks after the invoice run) and stored once; the email attaches the stored bytes,
and the API and the CLI serve them. A finalized invoice asked for before its PDF is stored is
rendered and stored then, so whoever asks first, everyone gets the same bytes. Seller and
customer details come from the catalog version the invoice was rated with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from billing.core.errors import UnknownInvoice
from billing.notify.invoice_pdf import invoice_html, invoice_pdf
from billing.store import invoice_documents as documents
from billing.store.catalog_versions import catalog_version
from billing.store.invoice_documents import InvoiceReference
from billing.store.invoice_records import load_invoices
from billing.views.invoice_sheet import invoice_sheet


@dataclass
class DocumentReport:
    rendered: list[int] = field(default_factory=list)  # invoice ids
    failed: dict[int, str] = field(default_factory=dict)  # invoice id -> why

    def add(self, other: DocumentReport) -> DocumentReport:
        self.rendered += other.rendered
        self.failed.update(other.failed)
        return self


def invoices_to_render(engine: Engine) -> list[int]:
    """Finalized invoices still without a stored PDF (this run's, and any an earlier run missed)."""
    with engine.connect() as connection:
        return documents.unrendered(connection)


def render_pdfs(engine: Engine, invoice_ids: list[int], now: datetime) -> DocumentReport:
    """Render and store the PDF of each of these invoices that has none yet; one that fails
    is reported and left for the next run (its email waits for it)."""
    report = DocumentReport()
    with engine.connect() as connection:
        references = documents.find_by_ids(connection, invoice_ids)
    for reference in references:
        try:
            with engine.connect() as connection:
                if documents.stored_pdf(connection, reference.invoice_id) is not None:
                    continue
                context = sheet(connection, reference)
            pdf = invoice_pdf(context)  # no transaction is open while printing
            with engine.begin() as connection:
                documents.store_pdf(connection, reference.invoice_id, pdf, now)
        except Exception as error:  # reported per invoice, as a failed send is; the rest go on
            report.failed[reference.invoice_id] = str(error) or type(error).__name__
            continue
        report.rendered.append(reference.invoice_id)
    return report


def sheet(connection: sa.Connection, reference: InvoiceReference) -> dict[str, Any]:
    """The document context of one stored invoice, with the details of its catalog version."""
    (invoice,) = load_invoices(Session(bind=connection), ids=[reference.invoice_id])
    catalog = catalog_version(connection, reference.catalog_version_id).catalog
    return invoice_sheet(invoice, catalog.customers_by_id.get(invoice.customer_id), catalog.seller)


def _reference(connection: sa.Connection, number: str) -> InvoiceReference:
    reference = documents.find_by_number(connection, number)
    if reference is None:
        raise UnknownInvoice.numbered(number)
    return reference


def document_html(engine: Engine, number: str) -> str:
    """The invoice numbered `number` as an HTML page (`UnknownInvoice` if there is none)."""
    with engine.connect() as connection:
        return invoice_html(sheet(connection, _reference(connection, number)))


def document_pdf(engine: Engine, number: str, now: datetime) -> bytes:
    """The invoice's PDF: the stored one, else rendered now (and stored, once it is final)."""
    with engine.connect() as connection:
        reference = _reference(connection, number)
        stored = documents.stored_pdf(connection, reference.invoice_id)
        if stored is not None:
            return stored
        context = sheet(connection, reference)
    pdf = invoice_pdf(context)
    if reference.status == "draft":
        return pdf
    with engine.begin() as connection:
        return documents.store_pdf(connection, reference.invoice_id, pdf, now)
