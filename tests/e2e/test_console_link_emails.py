"""Console links in emails (SPEC §8), through the outbox backend: with a console secret and a
public URL, a reminder's and an invoice's email (text and HTML) carry a link that opens the
customer's console; without either, the emails are exactly as before. The send ledger and the
notification history hold neither the link nor any console token."""

from __future__ import annotations

import email
import email.policy
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from billing.api import dependencies as deps
from billing.core.lifecycle import Reminder
from billing.notify.rendering import render_email
from billing.runtime import resources
from billing.runtime.settings import Settings
from billing.services.invoice_documents import invoices_to_render, render_pdfs
from billing.services.invoice_run import invoice_customers
from billing.services.notification_delivery import deliver_all
from billing.store import send_ledger
from billing.store.catalog_versions import active_catalog
from billing.store.models import Notification, NotificationDelivery
from tests.e2e.conftest import client_for
from tests.e2e.test_console_api import REFUSED, SECRET
from tests.unit.test_notification_templates import CONTEXTS

PUBLIC = "https://billing.example"
APRIL_5 = datetime(2026, 4, 5, tzinfo=UTC)
SENT = APRIL_5 + timedelta(hours=1)
LINK = re.compile(r"https://billing\.example/console/open\?[^\s\"<]+")


def _queue(engine) -> None:
    """bravo's trial reminder and its March invoice, PDF stored: two emails waiting to go."""
    context = CONTEXTS["trial_ending"] | {"customer_id": "bravo", "customer_name": "Bravo LLC"}
    reminder = Reminder(
        "bravo", "trial_ending", "contract/2026-03-01", "2026-04-15", "finance@bravo.example", context
    )
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [reminder], APRIL_5)
        stored = active_catalog(connection)
    report = invoice_customers(
        engine, stored, ["bravo"], APRIL_5, grace=timedelta(hours=24), due_days=30, now=APRIL_5
    )
    assert len(report.finalized) == 1 and not report.failures
    assert not render_pdfs(engine, invoices_to_render(engine), APRIL_5).failed


def _send(engine, outbox: Path, **settings: object) -> dict[str, email.message.EmailMessage]:
    """Every pending email sent through the senders the settings make; the outbox by kind."""
    senders = resources.channel_senders(
        Settings(outbox_dir=outbox, email_from="billing@vendor.example", console_link_days=30, **settings)
    )
    for sender in senders:
        sender.clock = lambda: SENT  # type: ignore[attr-defined]
    report = deliver_all(engine, senders, lambda: SENT)
    assert len(report.sent) == 2 and not report.failed
    messages = {}
    for path in outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        messages[message["X-Billing-Key"].split("/")[0]] = message
    assert set(messages) == {"trial_ending", "invoice_issued"}
    return messages  # type: ignore[return-value]


def _bodies(message) -> tuple[str, str]:
    return (
        message.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
        message.get_body(("html",)).get_content(),  # type: ignore[union-attr]
    )


def _stored_text(engine) -> str:
    with engine.connect() as connection:
        rows = [
            *connection.execute(sa.select(Notification)),
            *connection.execute(sa.select(NotificationDelivery)),
        ]
    return " ".join(str(tuple(row)) for row in rows)


def test_configured_both_parts_carry_a_link_that_opens_the_customers_console(engine, tmp_path):
    api = client_for(engine, console_secret=SECRET, public_url=PUBLIC)
    _queue(engine)
    messages = _send(engine, tmp_path, console_secret=SECRET, public_url=PUBLIC + "/")
    for kind, message in messages.items():
        text, page = _bodies(message)
        (in_text,) = LINK.findall(text)
        (in_html,) = {html.unescape(found) for found in LINK.findall(page)}
        assert in_text == in_html, kind
        assert "works for 30 days" in text and "works for 30 days" in page
        query = parse_qs(urlsplit(in_text).query)
        assert query["customer"] == ["bravo"]
        assert int(query["expires"][0]) == int((SENT + timedelta(days=30)).timestamp())
        assert "token=" not in text + page and "c1." not in text + page  # no console token in an email

        api.app.dependency_overrides[deps.now] = lambda: SENT + timedelta(days=10)
        opened = api.get(urlsplit(in_text).path + "?" + urlsplit(in_text).query, follow_redirects=False)
        assert opened.status_code == 303, (kind, opened.text)
        console = urlsplit(opened.headers["location"])
        page_answer = api.get(console.path + "?" + console.query, headers={"Authorization": ""})
        assert page_answer.status_code == 200 and "Bravo LLC" in page_answer.text

        # an email left in an outbox is not a key for ever: its link expires
        api.app.dependency_overrides[deps.now] = lambda: SENT + timedelta(days=30)
        expired = api.get(urlsplit(in_text).path + "?" + urlsplit(in_text).query, follow_redirects=False)
        assert (expired.status_code, expired.json()) == (403, REFUSED)

    stored = _stored_text(engine)
    assert "/console/open" not in stored and "sig" not in stored and "c1." not in stored
    api.app.dependency_overrides[deps.now] = lambda: SENT
    history = api.get("/v1/customers/bravo/notifications")
    assert history.status_code == 200 and len(history.json()["notifications"]) == 2
    assert "/console" not in history.text and "c1." not in history.text


@pytest.mark.parametrize(
    "settings",
    [{}, {"console_secret": SECRET}, {"public_url": PUBLIC}],
    ids=["neither", "secret only", "public url only"],
)
def test_without_a_secret_and_a_public_url_the_emails_are_unchanged(engine, tmp_path, settings):
    client_for(engine)  # the fixture catalog
    _queue(engine)
    messages = _send(engine, tmp_path, **settings)
    with engine.connect() as connection:
        contexts = dict(connection.execute(sa.select(Notification.kind, Notification.context)).all())
    for kind, message in messages.items():
        text, page = _bodies(message)
        assert "/console" not in text + page and "billing console" not in text + page
        expected = render_email(kind, contexts[kind])
        assert (text.strip(), page.strip()) == (expected.text.strip(), expected.html.strip())
