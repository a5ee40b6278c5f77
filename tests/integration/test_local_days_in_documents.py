"""A Paris customer's invoices as people read them: emails and CLI tables in local days.

October in Paris is `[Sep 30 22:00 UTC, Oct 31 23:00 UTC)`. Printed from UTC instants it read
"2026-09-30 – 2026-10-31", and a plan change on Oct 15 printed Oct 15 on both sides. Every date
a person reads is now the customer's calendar day, first and last inclusive.
"""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import sqlalchemy as sa

from billing.cli.commands.admin import invoices_list, invoices_show
from billing.core.catalog import parse_catalog
from billing.notify.outbox import OutboxBackend
from billing.services.email_delivery import EmailChannel
from billing.services.ingest import ingest_records
from billing.services.invoice_documents import invoices_to_render, render_pdfs
from billing.services.invoice_run import invoice_customers
from billing.services.notification_delivery import deliver_all
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import active_catalog, save_catalog
from billing.store.models import Notification
from tests.integration.test_invoice_pdf import pages

AS_OF = datetime(2026, 11, 3, tzinfo=UTC)  # November's grace period has passed
CATALOG = parse_catalog(
    {
        "currency": "EUR",
        "metrics": [{"code": "calls", "name": "Calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {
                "code": "starter",
                "name": "Starter",
                "interval": "monthly",
                "charges": [
                    {"model": "flat", "amount": "31.00"},
                    {"metric": "calls", "model": "per_unit", "unit_price": "1.00"},
                ],
            },
            {
                "code": "pro",
                "name": "Pro",
                "interval": "monthly",
                "charges": [{"model": "flat", "amount": "62.00"}],
            },
        ],
        "customers": [
            {
                "id": "paris",
                "name": "Paris SAS",
                "email": "compta@paris.example",
                "timezone": "Europe/Paris",
                "contracts": [
                    {"plan": "starter", "starts_on": "2026-10-01", "ends_on": "2026-10-14"},
                    {"plan": "pro", "starts_on": "2026-10-15"},
                ],
            }
        ],
    }
)


def _invoice_paris(engine, suite):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 9, 1, tzinfo=UTC))
    with engine.connect() as connection:
        stored = active_catalog(connection)
    # 00:30 on Oct 1 in Paris (Sep 30 in UTC) and Oct 14 at 23:30 (the last Starter day):
    # both October usage of the Starter contract
    times = ["2026-09-30T22:30:00Z", "2026-10-14T21:30:00Z"]
    records = [
        RawRecord(
            n,
            json.dumps(
                {"transaction_id": f"e{n}", "customer_id": "paris", "event_type": "call", "timestamp": at}
            ),
        )
        for n, at in enumerate(times)
    ]
    assert ingest_records(engine, stored.catalog, suite, records, "test", AS_OF).accepted == 2
    report = invoice_customers(
        engine, stored, ["paris"], AS_OF, grace=timedelta(hours=24), due_days=30, now=AS_OF
    )
    return {o.issued_on.isoformat(): o for o in report.outcomes}


def _mails(outbox: Path) -> dict[str, email.message.EmailMessage]:
    found = {}
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        found[message["Subject"]] = message
    return found


def test_the_paris_october_invoice_email_reads_in_local_days(configured, event_suite, tmp_path):
    outcomes = _invoice_paris(configured, event_suite)
    # Issued at Paris midnight: Oct 1 (Sep 30, 22:00 UTC) and Nov 1 (Oct 31, 23:00 UTC).
    assert sorted(outcomes) == ["2026-10-01", "2026-11-01"]
    assert [outcomes[d].status for d in sorted(outcomes)] == ["finalized", "finalized"]
    render_pdfs(configured, invoices_to_render(configured), AS_OF)  # the emails carry them
    outbox = tmp_path / "mails"
    sent = deliver_all(
        configured, [EmailChannel(OutboxBackend(outbox), "billing@vendor.example")], lambda: AS_OF
    )
    assert len(sent.sent) == 2 and not sent.failed

    november = outcomes["2026-11-01"]
    mails = _mails(outbox)
    mail = mails[f"Invoice {november.number}: 64.00 EUR due 1 Dec 2026"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert f"Your invoice {november.number} for 1 Oct 2026 – 31 Oct 2026 is ready." in text
    assert "Issue date  1 Nov 2026" in text and "Due date    1 Dec 2026" in text
    assert "Total due   64.00 EUR" in text
    for body in (text, html):
        assert "2026-09-30" not in body and "2026-10-31" not in body and "[:10]" not in body
    assert "1 Oct 2026 – 31 Oct 2026" in html and "1 Nov 2026" in html

    # The PDF: Starter's October usage, then Pro's November fee, each with its own days
    (pdf,) = pages(_attachment(mail))
    assert "Calls: 2 at €1.00 1 Oct 2026 – 14 Oct 2026 2 2.00" in pdf
    assert "1 Nov 2026 – 30 Nov 2026 1 62.00" in pdf
    assert "Total due 64.00 EUR" in pdf and "Due date 1 Dec 2026" in pdf
    assert "2026-09-30" not in pdf and "2026-10-31" not in pdf

    # The opening invoice bills October in advance on both sides of the plan change: the change
    # day, Oct 15, is Pro's first day and not also Starter's last.
    opening = mails[f"Invoice {outcomes['2026-10-01'].number}: 48.00 EUR due 31 Oct 2026"]
    assert "Issue date  1 Oct 2026" in opening.get_body(("plain",)).get_content()
    (pdf,) = pages(_attachment(opening))
    assert "1 Oct 2026 – 14 Oct 2026 1 14.00" in pdf
    assert "15 Oct 2026 – 31 Oct 2026 1 34.00" in pdf
    assert "– 15 Oct 2026" not in pdf


def _attachment(mail: email.message.EmailMessage) -> bytes:
    (attachment,) = mail.iter_attachments()
    content = attachment.get_content()
    assert isinstance(content, bytes)
    return content


def test_the_invoice_email_is_keyed_by_the_local_issue_date(configured, event_suite):
    _invoice_paris(configured, event_suite)
    with configured.connect() as connection:
        periods = connection.scalars(
            sa.select(Notification.period)
            .where(Notification.kind == "invoice_issued")
            .order_by(Notification.id)
        ).all()
    assert periods == ["2026-10-01", "2026-11-01"]  # the UTC dates are Sep 30 and Oct 31


def test_invoices_list_and_show_print_local_days(configured, event_suite):
    outcomes = _invoice_paris(configured, event_suite)
    listed = invoices_list("paris", as_json=False)
    rows = listed.splitlines()[1:]
    assert len(rows) == 2
    assert all("1 Oct 2026 – 31 Oct 2026" in row for row in rows), listed
    assert "2026-09-30" not in listed

    number = outcomes["2026-10-01"].number
    shown = invoices_show(number, as_json=False)
    assert (
        f"Invoice {number} for paris (finalized)\n"
        "period 1 Oct 2026 – 31 Oct 2026 (Europe/Paris), issued 1 Oct 2026, due 31 Oct 2026\n"
    ) in shown
    assert "1 Oct 2026 – 14 Oct 2026" in shown and "15 Oct 2026 – 31 Oct 2026" in shown

    document = json.loads(invoices_show(number, as_json=True))
    assert document["period"]["start"] == "2026-10-01T00:00:00+02:00"
    assert document["period"]["end"] == "2026-11-01T00:00:00+01:00"
    assert (document["issued_on"], document["due_on"]) == ("2026-10-01", "2026-10-31")
