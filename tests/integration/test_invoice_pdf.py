"""The invoice document: the PDF opened and its text read, the HTML page escaped, credit notes
and drafts told apart; rendered from hand-built invoices (no database)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from pypdf import PdfReader

from billing.notify.invoice_pdf import invoice_html, invoice_pdf
from billing.views.invoice_sheet import grouped, invoice_sheet
from tests.sample_invoices import CUSTOMER, SELLER, credit_note, invoice


def pages(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_pdf_carries_everything_a_finance_team_reads() -> None:
    (text,) = pages(invoice_pdf(invoice_sheet(invoice(), CUSTOMER, SELLER)))
    for expected in [
        "Invoice",
        "INV-000012",
        "Example Cloud Ltd",
        "1 Main St",
        "billing@example.com",
        "Tax ID GB123456789",
        "Acme Inc",
        "Boston MA 02110",
        "Tax ID US-99",
        "Issue date 1 Nov 2026",  # issued at local midnight in New York
        "Due date 1 Dec 2026",
        "1 Oct 2026 – 31 Oct 2026",  # the invoice's period, as local days
        "1 Nov 2026 – 30 Nov 2026",  # the fee's own period, in advance
        "API calls 1 Oct 2026 – 31 Oct 2026 12,000 95.00",
        "9,000 × 0.008 72.00",  # a tier of the graduated line
        "2,000 × 0.004 + 5.00 flat fee 13.00",
        "Subtotal 127.05",
        "VAT (20 %) 25.41",
        "Credits applied -50.00",
        "Total due 102.46 USD",
        "Ref. INV-000012 · 3f2a-91c0",
        "Page 1 of 1",
    ]:
        assert expected in text, (expected, text)
    assert "3f2a91c0deadbeef" not in text  # a readable reference, not the raw hash


def test_a_long_invoice_spans_pages_each_with_the_table_header_and_its_page_number() -> None:
    texts = pages(invoice_pdf(invoice_sheet(invoice(extra_lines=40), CUSTOMER, SELLER)))
    assert len(texts) >= 2
    for number, text in enumerate(texts, start=1):
        assert f"Page {number} of {len(texts)}" in text
        assert "Ref. INV-000012 · 3f2a-91c0" in text
    with_lines = [t for t in texts if "Seats, project" in t]
    assert len(with_lines) >= 2 and all("DESCRIPTION" in t.upper() for t in with_lines)
    assert "Seats, project 39" in " ".join(texts) and "Total due 150.46 USD" in " ".join(texts)


def test_a_credit_note_says_what_it_credits_with_negative_amounts() -> None:
    (text,) = pages(invoice_pdf(invoice_sheet(credit_note(), CUSTOMER, SELLER)))
    assert "Credit note" in text and "CN-000001" in text
    assert "Credits invoice INV-000012" in text
    assert "API calls 1 Oct 2026 – 31 Oct 2026 -12,000 -95.00" in text
    assert "VAT (20 %) -25.41" in text
    assert "Total credited -152.46 USD" in text
    assert "Due date" not in text and "Credits applied" not in text


def test_a_draft_says_so_prominently() -> None:
    draft = replace(invoice(), status="draft", number=None, due_on=None)
    html = invoice_html(invoice_sheet(draft, CUSTOMER, SELLER))
    assert "Draft · not a valid invoice" in html and ">DRAFT<" in html
    (text,) = pages(invoice_pdf(invoice_sheet(draft, CUSTOMER, SELLER)))
    assert "not a valid invoice" in text.lower() and "Ref. draft · 3f2a-91c0" in text


def test_the_html_page_escapes_what_the_catalog_says() -> None:
    hostile = CUSTOMER.model_copy(
        update={"name": "<script>alert('x')</script> & Co", "address": ("<b>1</b>",)}
    )
    html = invoice_html(invoice_sheet(invoice(), hostile, SELLER))
    assert "<script>" not in html and "<b>1</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b&gt;1&lt;/b&gt;" in html


def test_without_a_seller_or_a_customer_in_the_catalog_the_document_still_renders() -> None:
    html = invoice_html(invoice_sheet(invoice(), None, None))
    assert "Billed to" in html and "<strong>acme</strong>" in html and "Tax ID" not in html


@pytest.mark.parametrize(
    ("text", "shown"),
    [("0.00", "0.00"), ("999.99", "999.99"), ("1234.50", "1,234.50"), ("-1234567", "-1,234,567")],
)
def test_amounts_are_grouped_by_thousands_never_rounded(text: str, shown: str) -> None:
    assert grouped(text) == shown
