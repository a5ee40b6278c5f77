"""`billing invoices pay|void|list|show` as a user runs them: real processes, one-line errors."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from billing.services.invoice_run import invoice_customers
from billing.sources.catalog_file import load_catalog
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.e2e.test_cli import billing, one_line_refusal

pytestmark = pytest.mark.one_database


@pytest.fixture
def env(configured, tmp_path) -> dict[str, str]:
    """INV-000001 (7.00: 10.00 + VAT 2.00 - credit 5.00) and INV-000002 (12.00) for acme."""
    now = datetime(2026, 4, 2, 1, tzinfo=UTC)
    with configured.begin() as connection:
        stored = save_catalog(connection, load_catalog(FIXTURES / "taxed_customer.yaml"), "f", now)
    invoice_customers(configured, stored, ["acme"], now, grace=timedelta(hours=24), due_days=30, now=now)
    return {
        "BILLING_DATABASE_URL": configured.url.render_as_string(hide_password=False),
        "BILLING_OUTBOX_DIR": str(tmp_path / "outbox"),
        "BILLING_EMAIL_FROM": "billing@vendor.example",
    }


def test_show_prints_the_tax_lines(env) -> None:
    shown = billing("invoices", "show", "INV-000001", env=env)
    assert shown.returncode == 0, shown.stderr
    lines = [line.split() for line in shown.stdout.splitlines()]
    assert ["subtotal", "10.00"] in lines
    assert ["VAT", "20%", "2.00"] in lines
    assert ["credits", "applied", "-5.00"] in lines
    document = json.loads(billing("invoices", "show", "INV-000001", "--json", env=env).stdout)
    assert document["taxes"] == [{"name": "VAT", "rate": "20", "amount": "2.00"}]
    assert (document["kind"], document["corrects"], document["total"]) == ("invoice", None, "7.00")


def test_pay_then_pay_again(env) -> None:
    paid = billing("invoices", "pay", "INV-000002", env=env)
    assert paid.returncode == 0, paid.stderr
    assert paid.stdout.startswith("INV-000002 paid on ")
    again = billing("invoices", "pay", "INV-000002", env=env)
    assert again.returncode == 0, again.stderr
    assert "INV-000002 is already paid" in again.stdout
    assert json.loads(billing("invoices", "show", "INV-000002", "--json", env=env).stdout)["status"] == "paid"


def test_void_issues_and_emails_the_credit_note_listed_with_the_invoices(env, tmp_path) -> None:
    voided = billing("invoices", "void", "INV-000001", env=env)
    assert voided.returncode == 0, voided.stderr
    assert voided.stdout.strip() == "INV-000001 void; credit note CN-000001 issued (-7.00 USD), emailed"
    outbox = list((tmp_path / "outbox").rglob("*credit_note_issued*"))
    assert len(outbox) == 1, list((tmp_path / "outbox").rglob("*"))
    message = email.message_from_bytes(outbox[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    (attachment,) = message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type()) == ("CN-000001.pdf", "application/pdf")
    written = billing("invoices", "show", "CN-000001", "--pdf", str(tmp_path / "cn.pdf"), env=env)
    assert written.returncode == 0, written.stderr
    assert attachment.get_content() == (tmp_path / "cn.pdf").read_bytes()  # the bytes handed out
    assert "The credit note is attached as a PDF." in message.get_body(("plain",)).get_content()
    listed = json.loads(billing("invoices", "list", "--json", env=env).stdout)
    by_number = {document["number"]: document for document in listed}
    assert by_number["INV-000001"]["status"] == "void"
    credit_note = by_number["CN-000001"]
    assert (credit_note["kind"], credit_note["corrects"], credit_note["total"]) == (
        "credit_note",
        "INV-000001",
        "-7.00",
    )
    assert credit_note["taxes"] == [{"name": "VAT", "rate": "20", "amount": "-2.00"}]
    shown = billing("invoices", "show", "CN-000001", env=env)
    assert shown.stdout.startswith("Credit note CN-000001 for invoice INV-000001 for acme (finalized)")
    again = billing("invoices", "void", "INV-000001", env=env)
    assert (again.returncode, again.stdout.strip()) == (
        0,
        "INV-000001 is already void; credit note CN-000001; nothing changed",
    )


@pytest.mark.parametrize(
    ("first", "args", "message"),
    [
        (None, ("pay", "INV-000099"), "billing: no invoice numbered 'INV-000099'"),
        (None, ("void", "INV-000099"), "billing: no invoice numbered 'INV-000099'"),
        (None, ("show", "CN-000001"), "billing: no invoice numbered 'CN-000001'"),
        (  # a number of 20,000 characters is repeated cut, its length said
            None,
            ("show", "9" * 20_000),
            f"billing: no invoice numbered '{'9' * 200}'... (20,000 characters)",
        ),
        (
            ("pay", "INV-000001"),
            ("void", "INV-000001"),
            "invoice INV-000001 is paid: only a finalized invoice can be voided",
        ),
        (
            ("void", "INV-000001"),
            ("pay", "INV-000001"),
            "invoice INV-000001 is void: only a finalized invoice can be paid",
        ),
        (("void", "INV-000001"), ("void", "CN-000001"), "CN-000001 is a credit note: it cannot be voided"),
    ],
)
def test_a_refused_move_is_one_line_and_exit_1(env, first, args, message) -> None:
    if first:
        assert billing("invoices", *first, env=env).returncode == 0
    one_line_refusal(billing("invoices", *args, env=env), message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tax-rate", "VAT"), "--tax-rate 'VAT': expected NAME=PERCENT"),
        (("--tax-rate", "VAT=abc"), "--tax-rate 'VAT=abc': 'abc' is not a decimal number"),
        (("--tax-rate", "VAT=101"), "--tax-rate 'VAT=101': the rate must be a percentage from 0 to 100"),
        (("--tax-rate", "VAT=20", "--tax-rate", "VAT=5"), "--tax-rate VAT is given twice"),
    ],
)
def test_quote_tax_rate_mistakes_are_one_line(args, message) -> None:
    catalog = str(FIXTURES / "taxed_customer.yaml")
    one_line_refusal(billing("quote", "--catalog", catalog, "--plan", "std", *args), message)


def test_quote_with_tax_rates() -> None:
    catalog = str(FIXTURES / "taxed_customer.yaml")
    args = ("quote", "--catalog", catalog, "--plan", "std", "--usage", "calls=5")
    quoted = billing(*args, "--tax-rate", "VAT=20", "--tax-rate", "Levy=2.5", "--json")
    assert quoted.returncode == 0, quoted.stderr
    document = json.loads(quoted.stdout)
    # 10.00 + 5 x 1.00 = 15.00; VAT 3.00; levy 0.375 -> 0.38: 18.38
    assert (document["subtotal"], document["total"]) == ("15.00", "18.38")
    assert document["taxes"] == [
        {"name": "VAT", "rate": "20", "amount": "3.00"},
        {"name": "Levy", "rate": "2.5", "amount": "0.38"},
    ]
    assert set(document) == {"currency", "lines", "subtotal", "taxes", "total"}
    table = billing(*args, "--tax-rate", "VAT=20").stdout
    assert ["VAT", "20%", "3.00"] in [line.split() for line in table.splitlines()]
    assert json.loads(billing(*args, "--json").stdout)["taxes"] == []


def test_void_with_a_misconfigured_mailer_refuses_before_voiding(env) -> None:
    broken = {
        **env,
        "BILLING_EMAIL_BACKEND": "sendgrid",
        "BILLING_SENDGRID_API_KEY": "",
        "SENDGRID_API_KEY": "",
    }
    refused = billing("invoices", "void", "INV-000001", env=broken)
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "BILLING_EMAIL_BACKEND is 'sendgrid' but no API key is set: "
        "set BILLING_SENDGRID_API_KEY (or SENDGRID_API_KEY)"
    )
    assert len(refused.stderr.strip().splitlines()) == 1
    shown = json.loads(billing("invoices", "show", "INV-000001", "--json", env=env).stdout)
    assert shown["status"] == "finalized"  # nothing changed
