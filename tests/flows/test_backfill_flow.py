"""The backfill flow through Prefect: its artifact shows each difference and the action, a dry
run by default, the real run corrects once; a user's mistake ends the run in one line."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from decimal import Decimal
from email import policy

import pytest

from billing.core.errors import UnknownCustomer
from billing.store.invoice_documents import stored_pdf_for_number
from tests.flows.runs import artifact, completed_run, failed_run
from tests.integration.test_backfill import ingest, invoice, load, pending

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def late_march_call(configured, event_suite):
    """acme's March billed for 2 calls (INV-000002); a third March call arrived after."""
    stored = load(configured, "1.00", datetime(2026, 3, 1, tzinfo=UTC))
    ingest(configured, event_suite, stored, [("e1", "2026-03-05T00:00:00Z"), ("e2", "2026-03-06T00:00:00Z")],
           datetime(2026, 4, 1, 6, tzinfo=UTC))  # fmt: skip
    invoice(configured, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    ingest(
        configured, event_suite, stored, [("e3", "2026-03-30T00:00:00Z")], datetime(2026, 4, 10, tzinfo=UTC)
    )
    return configured


def test_a_dry_run_shows_what_the_real_run_corrects_once(late_march_call):
    from flows.backfill import backfill

    dry, run_id = completed_run(backfill, date(2026, 3, 1), date(2026, 4, 1))
    assert dry.dry_run and [(line.difference, line.action) for line in dry.lines] == [(1, "adjustment")]
    markdown = artifact(run_id)
    assert "(dry run)" in markdown
    assert (
        "| acme | 1 Mar 2026 – 31 Mar 2026 | Calls: 3 at $1.00 | 2.00 USD | 3.00 USD | 1.00 USD | INV-000002"
        " | would adjust on the next invoice |"
    ) in markdown
    assert pending(late_march_call) == []

    real = backfill(date(2026, 3, 1), date(2026, 4, 1), ["acme"], dry_run=False)
    assert real.lines == dry.lines
    assert len(pending(late_march_call)) == 1
    again, again_id = completed_run(backfill, date(2026, 3, 1), date(2026, 4, 1), dry_run=False)
    assert again.lines == []
    assert "_none_" in artifact(again_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"start": date(2026, 4, 1), "end": date(2026, 4, 1)},
            "backfill window 2026-04-01 .. 2026-04-01 is empty",
        ),
        ({"customer_ids": ["nobody"]}, "unknown customer(s): nobody"),
        ({"catalog_version": "deadbeef"}, "no catalog version deadbeef is stored"),
    ],
)
def test_a_mistake_fails_the_run_in_one_line(late_march_call, kwargs, message):
    from flows.backfill import backfill

    arguments = {"start": date(2026, 3, 1), "end": date(2026, 4, 1), **kwargs}
    run = failed_run(backfill, **arguments)
    assert run.message == message or run.message.startswith(message)
    if "customer_ids" in kwargs:
        assert isinstance(run.error, UnknownCustomer)


def test_an_applied_overcharge_renders_and_sends_its_credit_note(late_march_call, tmp_path):
    from flows.backfill import backfill

    cheaper = load(late_march_call, "0.50", datetime(2026, 4, 15, tzinfo=UTC))
    run, run_id = completed_run(
        backfill, date(2026, 3, 1), date(2026, 4, 1), catalog_version=cheaper.content_hash, dry_run=False
    )
    (line,) = run.lines
    assert (line.difference, line.action, line.invoice, line.credit_note) == (
        Decimal("-0.50"), "credit", "INV-000002", "CN-000001",
    )  # fmt: skip
    assert "| INV-000002 | credited on CN-000001 |" in artifact(run_id)
    messages = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in (tmp_path / "outbox").glob("*.eml")
    ]  # March's 3 calls at $0.50 (1.50) were billed 2.00: its credit note went out with the invoices'
    assert [m["Subject"] for m in messages if "CN-000001" in m["Subject"]] == [
        "Credit note CN-000001 for invoice INV-000002: -0.50 USD"
    ]
    with late_march_call.connect() as connection:  # rendered like any finalized document
        assert stored_pdf_for_number(connection, "CN-000001") is not None
    assert pending(late_march_call) == []
