"""How a flow run ends when a user's input is at fault: Failed, with a message naming what and
why, an artifact that says the same, and no traceback; and the catalog version it used."""

from __future__ import annotations

import json
import os
import pickle
from datetime import UTC, date, datetime

import pytest

from billing.core.errors import UnknownCustomer
from billing.sources.catalog_file import load_catalog
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.flows.runs import artifact, failed_run

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]

BASIC_CALLS = '{metric: api_calls, model: per_unit, unit_price: "0.10"}'


@pytest.fixture
def one_customer_beyond_bounds(configured, tmp_path, event_suite):
    """The three customers, alpha's calls priced so that 3 of them are more than a line can
    bill (3 x 999,999,999,999,999); bravo and charlie can be invoiced."""
    from billing.services.ingest import ingest_records

    text = (FIXTURES / "three_customers.yaml").read_text()
    assert text.count(BASIC_CALLS) == 1
    path = tmp_path / "huge.yaml"
    path.write_text(text.replace(BASIC_CALLS, BASIC_CALLS.replace("0.10", "999999999999999")))
    with configured.begin() as connection:
        stored = save_catalog(connection, load_catalog(path), "huge", datetime(2026, 3, 1, tzinfo=UTC))
    calls = [
        RawRecord(
            n,
            json.dumps(
                {
                    "transaction_id": f"a-{n}",
                    "customer_id": "alpha",
                    "event_type": "api_call",
                    "timestamp": f"2026-03-0{n + 2}T10:00:00Z",
                }
            ),
        )
        for n in range(3)
    ]
    ingest_records(configured, stored.catalog, event_suite, calls, "f", datetime(2026, 4, 5, tzinfo=UTC))
    return stored


@pytest.fixture
def three_customers(configured) -> None:
    """The three customers' catalog, saved as active."""
    with configured.begin() as connection:
        save_catalog(
            connection,
            load_catalog(FIXTURES / "three_customers.yaml"),
            "three",
            datetime(2026, 3, 1, tzinfo=UTC),
        )


def test_an_invoice_run_that_cannot_invoice_a_customer_fails_naming_it(one_customer_beyond_bounds):
    from flows.invoices import InvoiceRunIncomplete, run_invoices

    error, run_id, message = failed_run(run_invoices, date(2026, 4, 2))
    assert message.startswith("alpha: not invoiced: ")
    assert "beyond what one invoice line can bill" in message
    assert isinstance(error, InvoiceRunIncomplete)
    summary = error.report
    # bravo's March (60.00) and charlie's two invoices are issued; alpha's none
    assert {o["customer_id"] for o in summary["invoices"]} == {"bravo", "charlie"}
    assert (summary["finalized"], list(summary["failures"])) == (3, ["alpha"])
    assert summary["catalog_version"] == one_customer_beyond_bounds.content_hash

    markdown = artifact(run_id)
    assert f"catalog version {one_customer_beyond_bounds.content_hash[:12]}" in markdown
    not_invoiced = markdown.split("## Not invoiced", 1)[1]
    assert "| alpha | " in not_invoiced and "beyond what one invoice line can bill" in not_invoiced
    assert "bravo" not in not_invoiced
    invoiced = markdown.split("## Invoices", 1)[1].split("## Not invoiced", 1)[0]
    assert "| bravo |" in invoiced and "| charlie |" in invoiced and "alpha" not in invoiced
    assert pickle.loads(pickle.dumps(summary)) == summary  # it survives result persistence

    with pytest.raises(InvoiceRunIncomplete) as again:  # a plain call raises the same error
        run_invoices(date(2026, 4, 2))
    assert again.value.problems == [line for line in message.splitlines()]
    assert again.value.report["finalized"] == 0  # the others were invoiced the first time


def test_a_bad_parameter_ends_the_run_failed_with_its_message(one_customer_beyond_bounds):
    from flows.invoices import run_invoices

    run = failed_run(run_invoices, date(2026, 4, 2), customer_ids=["zulu"])
    assert run.message == "unknown customer(s): zulu"
    assert isinstance(run.error, UnknownCustomer)


def test_billing_invoice_prints_the_summary_and_each_customer_not_invoiced(
    configured, one_customer_beyond_bounds
):
    """The command as a user runs it, against the session's Prefect server."""
    from prefect.settings import get_current_settings

    from tests.e2e.test_cli import billing

    env = {
        "BILLING_DATABASE_URL": configured.url.render_as_string(hide_password=False),
        "BILLING_OUTBOX_DIR": os.environ["BILLING_OUTBOX_DIR"],
        "PREFECT_API_URL": str(get_current_settings().api.url),
    }
    result = billing("invoice", "--as-of", "2026-04-02", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines()[0].startswith(
        "as of 2026-04-03T00:00:00+00:00: 3 customers, 3 invoices finalized"
    )
    assert "alpha" not in result.stdout and "bravo" in result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("billing: ")]
    assert len(errors) == 1 and errors[0].startswith("billing: alpha: not invoiced: ")
    assert "beyond what one invoice line can bill" in errors[0]


def test_an_invoice_missing_from_the_store_ends_the_run_in_one_line(configured, three_customers):
    """Deleted behind the store's back (triggers off): the run says so before any task runs,
    issues nothing and emails nothing; the CLI prints it as one line, no traceback."""
    import sqlalchemy as sa
    from prefect.settings import get_current_settings

    from billing.store.invoice_records import InvoiceMissing
    from billing.store.models import Counter, InvoiceRow, Notification
    from flows.invoices import run_invoices
    from tests.e2e.test_cli import billing
    from tests.integration.test_immutable_invoices import triggers_off

    run_invoices(date(2026, 4, 2))
    with configured.begin() as connection, triggers_off(connection):
        connection.execute(sa.delete(InvoiceRow).where(InvoiceRow.number == "INV-000002"))

    def snapshot() -> tuple[int, int, int]:
        with configured.connect() as connection:
            return (
                connection.scalar(sa.select(sa.func.count()).select_from(InvoiceRow)),
                connection.scalar(sa.select(Counter.value)),
                connection.scalar(sa.select(sa.func.count()).select_from(Notification)),
            )

    before = snapshot()
    run = failed_run(run_invoices, date(2026, 4, 2))
    assert run.message.startswith("invoice INV-000002 is missing from the store")
    assert isinstance(run.error, InvoiceMissing)
    env = {
        "BILLING_DATABASE_URL": configured.url.render_as_string(hide_password=False),
        "BILLING_OUTBOX_DIR": os.environ["BILLING_OUTBOX_DIR"],
        "PREFECT_API_URL": str(get_current_settings().api.url),
    }
    result = billing("invoice", "--as-of", "2026-04-02", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("billing: ")]
    missing = "invoice INV-000002 is missing from the store: restore it from a backup; nothing was invoiced"
    assert errors == [f"billing: {missing}"]
    assert snapshot() == before


def test_billing_invoice_exits_1_when_an_email_fails_for_good(configured, three_customers, sendgrid_server):
    """SendGrid refuses every message (400): the invoices are issued and the summary printed,
    and the command exits 1 naming how many deliveries will never be tried again."""
    from prefect.settings import get_current_settings

    from tests.e2e.test_cli import billing

    sendgrid_server.status = 400
    env = {
        "BILLING_DATABASE_URL": configured.url.render_as_string(hide_password=False),
        "BILLING_EMAIL_BACKEND": "sendgrid",
        "BILLING_SENDGRID_API_KEY": "SG.test-key.secret",
        "BILLING_SENDGRID_HOST": sendgrid_server.url,
        "PREFECT_API_URL": str(get_current_settings().api.url),
    }
    result = billing("invoice", "--as-of", "2026-04-02", env=env)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    head = result.stdout.splitlines()[0]
    assert head.startswith("as of 2026-04-03T00:00:00+00:00: 3 customers, 5 invoices finalized")
    assert head.endswith("emails sent 0, 6 failed for good (never tried again)")  # every email of the run
    errors = [line for line in result.stderr.splitlines() if line.startswith("billing: ")]
    assert errors == [
        "billing: 6 deliveries failed for good and will not be tried again: "
        "`billing notifications list --status failed` shows why"
    ]
