"""Ingest -> invoice -> email through the real Prefect flows, on SQLite and PostgreSQL.

The fixture (tests/fixtures/three_customers.*) is small enough to price by hand; every expected
total below is worked out in its comment.
"""

from __future__ import annotations

import email
from datetime import date
from decimal import Decimal
from email import policy
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.store.catalog_versions import save_catalog
from billing.store.invoice_records import load_invoices
from billing.store.models import IngestRun, QuarantinedEvent
from tests.conftest import FIXTURES
from tests.integration.test_invoice_pdf import pages

pytestmark = [pytest.mark.flow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def loaded(configured):
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    return configured


def _outbox(tmp_path: Path) -> dict[str, email.message.EmailMessage]:
    messages = {}
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        messages[message["Subject"]] = message
    return messages


def test_month_of_usage_becomes_emailed_invoices(loaded, tmp_path):
    from flows.ingest import ingest_usage
    from flows.invoices import run_invoices

    report = ingest_usage(str(FIXTURES / "three_customers_usage.jsonl"))
    # 7 alpha + 8 bravo + 3 charlie accepted; a-1 repeated once; conflict, unknown customer,
    # a non-numeric gb and a broken line quarantined.
    assert report["received"] == 23
    assert (report["accepted"], report["duplicates"], report["quarantined"]) == (18, 1, 4)
    assert report["reasons"] == {
        "conflict": 1,
        "invalid_property": 1,
        "malformed_json": 1,
        "unknown_customer": 1,
    }

    summary = run_invoices(date(2026, 4, 2))
    assert summary["finalized"] == 5 and summary["drafts"] == 0
    # and charlie's 3.00 credit, burned whole by its first invoice, is low: one credits_low
    assert summary["credits_low"] == 1
    assert summary["emails"] == {"sent": 6, "failed": 0, "failed_for_good": 0, "held_back": 0}

    with Session(loaded) as session:
        invoices = {(i.customer_id, i.issued_at.date().isoformat()): i for i in load_invoices(session)}
    totals = {key: (i.number, i.subtotal, i.credits_applied, i.total) for key, i in invoices.items()}
    assert totals == {
        # alpha, UTC, basic: March's fee in advance on Mar 1 ...
        ("alpha", "2026-03-01"): ("INV-000001", Decimal("10.00"), Decimal("0.00"), Decimal("10.00")),
        # ... then 7 calls x 0.10 = 0.70 for March, plus April's fee 10.00.
        ("alpha", "2026-04-01"): ("INV-000002", Decimal("10.70"), Decimal("0.00"), Decimal("10.70")),
        # bravo, New York, growth (nothing in advance, so no opening invoice): 3 calls in March
        # local time (b-0 is Feb 28 there, b-4 is Apr 1) x 1.00 = 3.00; EU storage peak 20.5 GB
        # x 0.10 = 2.05 (the 400 GB are in the US); fee in arrears 50.00; 55.05 < 60.00, so a
        # true-up of 4.95 brings March to its minimum of 60.00. Issued at 00:00 EDT = 04:00 UTC.
        ("bravo", "2026-04-01"): ("INV-000003", Decimal("60.00"), Decimal("0.00"), Decimal("60.00")),
        # charlie, Berlin, tokens, trial Feb 19 - Mar 1: March's fee 5.00 on Mar 1 (Feb 28,
        # 23:00 UTC), less the 3.00 credit granted that day = 2.00 ...
        ("charlie", "2026-02-28"): ("INV-000004", Decimal("5.00"), Decimal("3.00"), Decimal("2.00")),
        # ... then March's tokens 1200 + 1400 = 2600 (the 9000 in the trial are not billed),
        # 500 free, 2100 billable = 3 packages x 2.00 = 6.00, plus April's fee 5.00 = 11.00.
        ("charlie", "2026-03-31"): ("INV-000005", Decimal("11.00"), Decimal("0.00"), Decimal("11.00")),
    }
    bravo = invoices[("bravo", "2026-04-01")]
    assert [line.amount for line in bravo.lines] == [
        Decimal("50.00"),
        Decimal("3.00"),
        Decimal("2.05"),
        Decimal("4.95"),
    ]
    assert bravo.lines[1].description == "API calls: 3 at $1.00"

    mails = _outbox(tmp_path)
    assert len(mails) == 6
    low = mails["Charlie SA: $0.00 of prepaid credit left"]
    assert "Of the $3.00 of prepaid credit granted on 1 Mar 2026" in low.get_body(("plain",)).get_content()
    alpha = mails["Invoice INV-000002: 10.70 USD due 1 May 2026"]
    assert alpha["To"] == "ap@alpha.example"
    assert alpha["From"] == "billing@vendor.example"
    text = alpha.get_body(("plain",)).get_content()
    assert "Hello Alpha GmbH" in text
    assert "Your invoice INV-000002 for 1 Mar 2026 – 31 Mar 2026 is ready." in text
    assert "Issue date  1 Apr 2026" in text and "Due date    1 May 2026" in text
    assert "Total due   10.70 USD" in text
    html = alpha.get_body(("html",)).get_content()
    assert "INV-000002" in html and "10.70" in html
    (pdf,) = alpha.iter_attachments()
    (page,) = pages(pdf.get_content())
    assert "API calls: 7 at $0.10 1 Mar 2026 – 31 Mar 2026 7 0.70" in page
    assert "Total due 10.70 USD" in page

    # Re-running changes nothing: no new invoice, no second email.
    again = run_invoices(date(2026, 4, 2))
    assert again["finalized"] == 0 and again["emails"]["sent"] == 0
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 6
    again_ingest = ingest_usage(str(FIXTURES / "three_customers_usage.jsonl"))
    assert (again_ingest["accepted"], again_ingest["duplicates"]) == (0, 19)
    with loaded.connect() as connection:  # each run's counts are kept
        runs = connection.execute(
            sa.select(
                IngestRun.received, IngestRun.accepted, IngestRun.duplicates, IngestRun.quarantined
            ).order_by(IngestRun.id)
        ).all()
    assert [tuple(run) for run in runs] == [(23, 18, 1, 4), (23, 0, 19, 4)]


def test_bad_rows_are_quarantined_with_their_reason(loaded):
    from flows.ingest import ingest_usage

    ingest_usage(str(FIXTURES / "three_customers_usage.jsonl"))
    with loaded.connect() as connection:
        rows = connection.execute(
            sa.select(
                QuarantinedEvent.transaction_id, QuarantinedEvent.reason, QuarantinedEvent.detail
            ).order_by(QuarantinedEvent.line)
        ).all()
    held = {(txid, reason) for txid, reason, _ in rows}
    assert held == {
        ("a-1", "conflict"),
        ("x-1", "unknown_customer"),
        ("b-s4", "invalid_property"),
        (None, "malformed_json"),
    }
    detail = {reason: text for _, reason, text in rows}
    assert "property 'gb' must be a number" in detail["invalid_property"]
    assert "'zulu'" in detail["unknown_customer"]


def test_trial_ending_reminder_is_sent_once(loaded, tmp_path):
    from flows.lifecycle import scan_lifecycle

    # charlie (Berlin) ends its trial on Mar 1: at the end of Feb 26 UTC it is 00:59 on Feb 27
    # in Berlin, 2 days before
    first = scan_lifecycle(date(2026, 2, 26))
    second = scan_lifecycle(date(2026, 2, 27))
    assert [(d["customer_id"], d["day"]) for d in first["due"]] == [("charlie", "2026-02-27")]
    # decided once: the lifecycle calendar moved charlie's reminder on to its next occurrence
    # (none: a trial ends once), so the next day's scan finds nothing due
    assert second["due"] == [] and second["skipped"] == []
    assert (first["new"], first["sent"]) == (1, 1)
    assert (second["new"], second["sent"]) == (0, 0)
    mails = _outbox(tmp_path)
    assert list(mails) == ["Your Tokens trial ends in 2 days"]
    body = mails["Your Tokens trial ends in 2 days"].get_body(("plain",)).get_content()
    assert "ends on 1 Mar 2026" in body and "$5.00 per period" in body


def test_a_glob_ingests_every_matching_file_and_an_empty_inbox_is_no_error(loaded, tmp_path):
    from flows.ingest import ingest_usage

    lines = (FIXTURES / "three_customers_usage.jsonl").read_text().splitlines(keepends=True)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.jsonl").write_text("".join(lines[:10]))
    (inbox / "b.jsonl").write_text("".join(lines[10:]))
    report = ingest_usage(str(inbox / "*.jsonl"))
    counts = (report["received"], report["accepted"], report["duplicates"], report["quarantined"])
    assert counts == (23, 18, 1, 4)
    empty = ingest_usage(str(tmp_path / "nothing-here" / "*.jsonl"))
    assert empty["received"] == 0


def test_a_periods_invoiced_charges_equal_its_quote(loaded):
    """What the invoices bill for March (in-advance fee on one, usage and true-up on the next)
    is what `billing quote` prices for the same usage."""
    from billing.core.pricing.base import MeteredUsage
    from billing.core.rating import quote
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage
    from flows.invoices import run_invoices

    ingest_usage(str(FIXTURES / "three_customers_usage.jsonl"))
    run_invoices(date(2026, 4, 2))
    catalog = load_catalog(FIXTURES / "three_customers.yaml")
    with Session(loaded) as session:
        invoices = load_invoices(session)
    march_usage = {
        "alpha": ("basic", {"api_calls": MeteredUsage(Decimal(7), 7)}),
        "bravo": (
            "growth",
            {"api_calls": MeteredUsage(Decimal(3), 3), "storage_gb": MeteredUsage(Decimal("20.5"))},
        ),
        "charlie": ("tokens", {"tokens": MeteredUsage(Decimal(2600))}),
    }
    for customer, (plan, usage) in march_usage.items():
        first_period = min(i.period_start for i in invoices if i.customer_id == customer)
        billed = sorted(
            line.amount
            for i in invoices
            if i.customer_id == customer
            for line in i.lines
            if line.start is not None and line.start.date() <= first_period.date() < line.end.date()
        )
        quoted = sorted(line.amount for line in quote(catalog, plan, usage).lines)
        assert billed == quoted, customer
