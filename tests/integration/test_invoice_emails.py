"""Invoice PDFs stored once and the invoice emails that carry them, on SQLite and PostgreSQL.

A finalized invoice's email waits until its PDF is stored, then goes out once with the stored
bytes attached (outbox and SendGrid, the latter against a local HTTP server); an invoice whose
subtotal is 0 is issued but not emailed unless told to, one brought to 0 by credits is emailed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.notify.outbox import OutboxBackend
from billing.notify.sendgrid_mail import SendGridBackend
from billing.services.email_delivery import EmailChannel
from billing.services.invoice_documents import document_pdf, invoices_to_render, render_pdfs
from billing.services.invoice_run import invoice_customers
from billing.services.notification_delivery import deliver_pending
from billing.store.catalog_versions import StoredCatalog, save_catalog
from billing.store.invoice_records import load_invoices
from billing.store.models import InvoiceDocumentRow, Notification
from tests.fake_sendgrid import FakeSendGrid
from tests.integration.test_email_backends import API_KEY
from tests.integration.test_invoice_pdf import pages

MARCH_1 = datetime(2026, 3, 1, tzinfo=UTC)
AS_OF = datetime(2026, 3, 2, 1, tzinfo=UTC)  # past March 1's invoices and their grace
NOW = datetime(2026, 3, 2, 2, tzinfo=UTC)
SENDER = "billing@vendor.example"


def _catalog(acme_name: str = "Acme Inc") -> dict[str, object]:
    def customer(cid: str, plan: str, **more: object) -> dict[str, object]:
        return {
            "id": cid,
            "email": f"ap@{cid}.example",
            "contracts": [{"plan": plan, "starts_on": "2026-03-01"}],
            **more,
        }

    prepaid = customer("prepaid", "std")
    prepaid["contracts"][0]["credits"] = [{"amount": "10.00", "granted_on": "2026-03-01"}]  # type: ignore[index]
    return {
        "currency": "USD",
        "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {"code": "std", "interval": "monthly", "charges": [{"model": "flat", "amount": "10.00"}]},
            {"code": "free", "interval": "monthly", "charges": [{"model": "flat", "amount": "0.00"}]},
        ],
        "seller": {"name": "Vendor Ltd", "address": ["1 Main St"], "email": "billing@vendor.example"},
        "customers": [
            customer("acme", "std", name=acme_name, address=["2 Side St", "Boston MA"], tax_id="US-99"),
            customer("zero", "free"),
            prepaid,
        ],
    }


def _load(engine, acme_name: str = "Acme Inc", at: datetime = MARCH_1) -> StoredCatalog:
    with engine.begin() as connection:
        return save_catalog(connection, parse_catalog(_catalog(acme_name)), "test", at)


def _invoice(engine, stored: StoredCatalog, *, email_zero_invoices: bool = False) -> dict[str, str]:
    report = invoice_customers(
        engine,
        stored,
        ["acme", "zero", "prepaid"],
        AS_OF,
        grace=timedelta(hours=24),
        due_days=30,
        now=NOW,
        email_zero_invoices=email_zero_invoices,
    )
    assert not report.failures
    return {o.customer_id: o.number for o in report.finalized if o.number}


def _emailed(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Notification.subject, Notification.status))
        return dict(rows.all())


def test_zero_subtotal_is_issued_not_emailed_and_a_credit_zeroed_one_is(engine) -> None:
    numbers = _invoice(engine, _load(engine))
    assert set(numbers) == {"acme", "zero", "prepaid"}  # all three issued and numbered
    with Session(engine) as session:
        totals = {i.customer_id: (i.subtotal, i.total) for i in load_invoices(session)}
    assert totals["zero"][0] == 0 and totals["prepaid"] == (10, 0)
    assert set(_emailed(engine)) == {numbers["acme"], numbers["prepaid"]}


def test_zero_subtotal_is_emailed_when_configured(engine) -> None:
    numbers = _invoice(engine, _load(engine), email_zero_invoices=True)
    assert set(_emailed(engine)) == set(numbers.values())


def test_the_email_waits_for_its_pdf_then_goes_out_once_with_the_stored_bytes(engine, tmp_path: Path) -> None:
    numbers = _invoice(engine, _load(engine))
    outbox = OutboxBackend(tmp_path)
    waiting = deliver_pending(engine, [EmailChannel(outbox, SENDER)], NOW)
    assert (waiting.sent, waiting.failed) == ([], {})  # no PDF stored yet: nothing is claimed
    assert set(_emailed(engine).values()) == {"pending"}

    report = render_pdfs(engine, invoices_to_render(engine), NOW)
    assert len(report.rendered) == 3 and not report.failed
    assert invoices_to_render(engine) == []

    sent = deliver_pending(engine, [EmailChannel(outbox, SENDER)], NOW + timedelta(minutes=1))
    assert sorted(d.key for d in sent.sent) == sorted(
        f"invoice_issued/{c}/{numbers[c]}/2026-03-01" for c in ("acme", "prepaid")
    )
    assert (
        deliver_pending(engine, [EmailChannel(outbox, SENDER)], NOW + timedelta(minutes=2)).sent == []
    )  # once

    acme = numbers["acme"]
    (path,) = [p for p in tmp_path.glob("*.eml") if acme in p.name]
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    (attachment,) = message.iter_attachments()  # type: ignore[attr-defined]
    assert (attachment.get_filename(), attachment.get_content_type()) == (f"{acme}.pdf", "application/pdf")
    stored = document_pdf(engine, acme, NOW)
    assert attachment.get_content() == stored
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Total due   10.00 USD" in text and "1 Mar 2026 – 31 Mar 2026" in text and "PDF" in text


def test_sendgrid_carries_the_pdf_as_a_base64_attachment(engine, sendgrid_server: FakeSendGrid) -> None:
    numbers = _invoice(engine, _load(engine))
    render_pdfs(engine, invoices_to_render(engine), NOW)
    backend = SendGridBackend(API_KEY, SENDER, host=sendgrid_server.url)
    assert len(deliver_pending(engine, [EmailChannel(backend, SENDER)], NOW).sent) == 2
    payloads = {r.json()["personalizations"][0]["to"][0]["email"]: r.json() for r in sendgrid_server.requests}  # type: ignore[index]
    (attachment,) = payloads["ap@acme.example"]["attachments"]  # type: ignore[misc]
    assert attachment == {
        "content": base64.b64encode(document_pdf(engine, numbers["acme"], NOW)).decode("ascii"),
        "type": "application/pdf",
        "filename": f"{numbers['acme']}.pdf",
        "disposition": "attachment",
    }


def test_a_failed_send_stays_pending_and_is_sent_by_the_next_run(
    engine, sendgrid_server: FakeSendGrid
) -> None:
    _invoice(engine, _load(engine))
    render_pdfs(engine, invoices_to_render(engine), NOW)
    backend = SendGridBackend(API_KEY, SENDER, host=sendgrid_server.url)
    sendgrid_server.status = 503
    unavailable = deliver_pending(engine, [EmailChannel(backend, SENDER)], NOW)
    # the first is refused; the second is given back untried, to go when the first may
    assert len(unavailable.failed) == 1 and unavailable.held_back == {
        "email": (1, NOW + timedelta(minutes=1))
    }
    assert set(_emailed(engine).values()) == {"pending"}
    sendgrid_server.status = 202
    assert len(deliver_pending(engine, [EmailChannel(backend, SENDER)], NOW + timedelta(minutes=1)).sent) == 2
    assert deliver_pending(engine, [EmailChannel(backend, SENDER)], NOW + timedelta(minutes=2)).sent == []
    assert len(sendgrid_server.requests) == 3  # one refused, two sent, none twice


def test_an_outbox_that_cannot_be_written_keeps_the_emails_pending_until_it_can(
    engine, tmp_path: Path
) -> None:
    """A folder that cannot be written is the machine's fault, not the message's: its emails
    wait and go once it is fixed, instead of failing for good on their first try."""
    _invoice(engine, _load(engine))
    render_pdfs(engine, invoices_to_render(engine), NOW)
    folder = tmp_path / "outbox"
    folder.write_text("a file where the folder should be")
    channel = EmailChannel(OutboxBackend(folder), SENDER)
    blocked = deliver_pending(engine, [channel], NOW)
    assert len(blocked.failed) == 2 and not blocked.gave_up
    assert all("cannot write email" in why for why in blocked.failed.values())
    assert set(_emailed(engine).values()) == {"pending"}
    folder.unlink()
    assert len(deliver_pending(engine, [channel], NOW + timedelta(minutes=1)).sent) == 2
    assert len(list(folder.glob("*.eml"))) == 2
    assert set(_emailed(engine).values()) == {"sent"}


def test_a_stored_pdf_never_changes_and_names_the_catalog_version_it_was_rated_with(engine) -> None:
    numbers = _invoice(engine, _load(engine))
    _load(engine, acme_name="Acme Renamed Corp", at=MARCH_1 + timedelta(days=1))  # a later catalog
    acme = numbers["acme"]
    first = document_pdf(engine, acme, NOW)  # not rendered by a run yet: rendered and stored now
    assert document_pdf(engine, acme, NOW + timedelta(hours=1)) == first  # the same bytes
    (text,) = pages(first)
    assert "Acme Inc" in text and "Renamed" not in text and "Vendor Ltd" in text and "Tax ID US-99" in text
    with engine.connect() as connection:
        row = connection.execute(sa.select(InvoiceDocumentRow.invoice_id, InvoiceDocumentRow.sha256)).one()
    assert row.sha256 == hashlib.sha256(first).hexdigest()
    for statement in [
        sa.update(InvoiceDocumentRow).values(pdf=b"%PDF-forged"),
        sa.delete(InvoiceDocumentRow),
    ]:
        with pytest.raises(sa.exc.DatabaseError, match="never changes"), engine.begin() as connection:
            connection.execute(statement)
