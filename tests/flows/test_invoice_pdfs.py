"""The invoice run through Prefect: finalize → PDF stored → email with the PDF, sent once
across two runs."""

from __future__ import annotations

import email
from datetime import date
from email import policy

import pytest
import sqlalchemy as sa

from billing.store.catalog_versions import save_catalog
from billing.store.invoice_documents import stored_pdf_for_number
from billing.store.models import InvoiceDocumentRow
from tests.conftest import FIXTURES

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]


def test_finalized_invoices_are_printed_once_and_emailed_once_with_their_pdf(configured, tmp_path):
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.invoices import run_invoices

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())

    first = run_invoices(date(2026, 4, 2))
    assert first["finalized"] == 5
    assert first["documents"] == {"rendered": 5, "failed": 0}
    # five invoices and charlie's credits_low (its 3.00 credit is burned by its first invoice)
    assert first["emails"] == {"sent": 6, "failed": 0, "failed_for_good": 0, "held_back": 0}
    with configured.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(InvoiceDocumentRow)) == 5
        alpha_april = stored_pdf_for_number(connection, "INV-000002")
    assert alpha_april is not None

    mails = sorted((tmp_path / "outbox").glob("*.eml"))
    invoice_mails = [path for path in mails if path.name.startswith("invoice_issued")]
    assert (len(mails), len(invoice_mails)) == (6, 5)
    attached = {}
    for path in invoice_mails:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        (attachment,) = message.iter_attachments()
        assert attachment.get_content_type() == "application/pdf"
        attached[attachment.get_filename()] = attachment.get_content()
    assert sorted(attached) == [f"INV-00000{n}.pdf" for n in range(1, 6)]
    assert attached["INV-000002.pdf"] == alpha_april  # the stored bytes

    second = run_invoices(date(2026, 4, 2))
    assert second["finalized"] == 0
    assert second["documents"] == {"rendered": 0, "failed": 0}
    assert second["emails"] == {"sent": 0, "failed": 0, "failed_for_good": 0, "held_back": 0}
    assert sorted((tmp_path / "outbox").glob("*.eml")) == mails


def test_many_chunks_are_printed_by_worker_processes(configured, tmp_path, monkeypatch):
    """Five invoices in chunks of two: three PDF tasks in a pool of worker processes, each PDF
    stored once and attached to its email."""
    import flows.invoices as invoice_flows
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog

    monkeypatch.setattr(invoice_flows, "INVOICES_PER_PDF_TASK", 2)
    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())

    summary = invoice_flows.run_invoices(date(2026, 4, 2))
    assert summary["documents"] == {"rendered": 5, "failed": 0}
    assert summary["emails"] == {
        "sent": 6,
        "failed": 0,
        "failed_for_good": 0,
        "held_back": 0,
    }  # and charlie's credits_low
    with configured.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(InvoiceDocumentRow)) == 5
    assert len(sorted((tmp_path / "outbox").glob("invoice_issued*.eml"))) == 5
