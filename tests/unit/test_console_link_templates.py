"""Every email kind offers the console link in both parts when given one, and only adds it: the
email without a link is the email with its link paragraph taken out."""

from __future__ import annotations

from typing import Any

import pytest

from billing.core.console_links import ConsoleLink
from billing.notify.rendering import render_email
from tests.unit.test_notification_templates import CONTEXTS

PERIOD = {"first_day": "2026-03-01", "last_day": "2026-03-31"}
DOCUMENTS: dict[str, dict[str, Any]] = {
    "invoice_issued": {
        "customer_name": "Acme",
        "invoice": {
            "number": "INV-000001",
            "period": PERIOD,
            "issued_on": "2026-04-01",
            "due_on": "2026-05-01",
            "total": "33.00",
            "currency": "USD",
            "fingerprint": "abcdef123456",
        },
    },
    "credit_note_issued": {
        "customer_name": "Acme",
        "credit_note": {
            "reason": "backfill",
            "corrects": "INV-000001",
            "period": PERIOD,
            "number": "CN-000001",
            "issued_on": "2026-04-02",
            "lines": [{"description": "API calls", "period": PERIOD, "amount": "-1.00"}],
            "subtotal": "-1.00",
            "taxes": [],
            "credits_applied": "0.00",
            "total": "-1.00",
            "currency": "USD",
            "fingerprint": "ff00",
        },
    },
}
KINDS = {**CONTEXTS, **DOCUMENTS}
LINK = ConsoleLink("https://billing.example/console/open?customer=acme&expires=1777777777&sig=S", 30)
TEXT_PART = (
    "\nYour billing console shows your usage so far, your invoices and your upcoming dates:\n"
    f"{LINK.url}\n(the link works for 30 days after this email was sent)\n"
)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_link_is_in_both_parts_and_only_adds_to_the_email(kind: str) -> None:
    without = render_email(kind, KINDS[kind])
    with_link = render_email(kind, KINDS[kind], LINK)
    assert with_link.subject == without.subject
    assert with_link.text.count(TEXT_PART) == 1
    assert with_link.text.replace(TEXT_PART, "", 1) == without.text
    escaped = LINK.url.replace("&", "&amp;")
    assert f'<a href="{escaped}"' in with_link.html and "works for 30 days" in with_link.html
    (paragraph,) = [line for line in with_link.html.splitlines(keepends=True) if escaped in line]
    assert with_link.html.replace(paragraph, "", 1) == without.html
    assert "console" not in without.text.lower() + without.html.lower()


def test_a_link_is_escaped_in_the_html_part() -> None:
    odd = ConsoleLink('https://billing.example/console/open?customer=%22%3E&x="<b>', 1)
    mail = render_email("trial_ending", CONTEXTS["trial_ending"], odd)
    assert '"<b>' not in mail.html and "&#34;&lt;b&gt;" in mail.html and "1 day after" in mail.html
