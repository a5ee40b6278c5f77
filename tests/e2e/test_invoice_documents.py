"""`GET /v1/invoices/{number}.pdf|.html` and `billing invoices show NUMBER --pdf|--html FILE`:
the stored PDF, the same bytes each time and everywhere; unknown numbers are a JSON 404."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from billing.services.invoice_run import invoice_customers
from billing.store.catalog_versions import active_catalog
from tests.e2e.conftest import client_for
from tests.e2e.test_cli import billing
from tests.integration.test_invoice_pdf import pages

APRIL_5 = datetime(2026, 4, 5, tzinfo=UTC)


@pytest.fixture
def issued(engine):
    """An API client, and bravo's March invoice INV-000001 (50.00 fee + 10.00 true-up) issued."""
    client = client_for(engine)
    with engine.connect() as connection:
        stored = active_catalog(connection)
    report = invoice_customers(
        engine, stored, ["bravo"], APRIL_5, grace=timedelta(hours=24), due_days=30, now=APRIL_5
    )
    assert [o.number for o in report.finalized] == ["INV-000001"]
    return client


def test_the_pdf_is_served_inline_and_is_the_same_bytes_every_time(issued):
    answer = issued.get("/v1/invoices/INV-000001.pdf")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"] == 'inline; filename="INV-000001.pdf"'
    (text,) = pages(answer.content)
    assert "INV-000001" in text and "Bravo LLC" in text and "Total due 60.00 USD" in text
    assert "1 Mar 2026 – 31 Mar 2026" in text  # New York's local days
    assert issued.get("/v1/invoices/INV-000001.pdf").content == answer.content


def test_the_html_page_is_the_same_document(issued):
    answer = issued.get("/v1/invoices/INV-000001.html")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "INV-000001" in answer.text and "Bravo LLC" in answer.text and "60.00 USD" in answer.text


@pytest.mark.parametrize("path", ["/v1/invoices/INV-999999.pdf", "/v1/invoices/INV-999999.html"])
def test_an_unknown_number_is_a_json_404(issued, path):
    answer = issued.get(path)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": {"code": "unknown_invoice", "message": "no invoice numbered 'INV-999999'"}
    }


def test_documents_need_an_api_key(issued):
    answer = issued.get("/v1/invoices/INV-000001.pdf", headers={"Authorization": ""})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"


@pytest.mark.one_database
def test_the_cli_writes_the_same_pdf_and_the_html_page(issued, engine, tmp_path):
    env = {"BILLING_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    written = billing("invoices", "show", "INV-000001", "--pdf", str(tmp_path / "inv.pdf"), env=env)
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(f"wrote {tmp_path / 'inv.pdf'} (")
    assert (tmp_path / "inv.pdf").read_bytes() == issued.get("/v1/invoices/INV-000001.pdf").content
    page = billing("invoices", "show", "INV-000001", "--html", str(tmp_path / "inv.html"), env=env)
    assert page.returncode == 0, page.stderr
    assert "Bravo LLC" in (tmp_path / "inv.html").read_text(encoding="utf-8")
    missing = billing("invoices", "show", "INV-000404", "--pdf", str(tmp_path / "x.pdf"), env=env)
    assert missing.returncode == 1 and missing.stderr.strip() == "billing: no invoice numbered 'INV-000404'"
