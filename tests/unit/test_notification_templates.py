"""Every notification kind's email: subject, text and HTML from a context shaped as the ledger
stores it (amounts as decimal text at minor units, days as ISO local days)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jinja2 import UndefinedError

from billing.core.errors import MoneyError
from billing.notify.rendering import money, plural, render_email

BASE = {"customer_id": "acme", "customer_name": "Acme Inc", "currency": "USD"}
CONTRACT = {**BASE, "plan_name": "Pro"}

CONTEXTS: dict[str, dict[str, Any]] = {
    "trial_ending": {
        **CONTRACT,
        "trial_ends_on": "2026-03-15",
        "days_left": 3,
        "recurring_fee": "30.00",
        "minimum_commitment": "100.00",
    },
    "trial_ended": {
        **CONTRACT,
        "trial_ended_on": "2026-03-15",
        "recurring_fee": "30.00",
        "minimum_commitment": "100.00",
    },
    "renewal_upcoming": {
        **CONTRACT,
        "renews_on": "2027-01-15",
        "days_left": 30,
        "term_months": 12,
        "recurring_fee": "30.00",
        "minimum_commitment": "100.00",
    },
    "renewed": {
        **CONTRACT,
        "renewed_on": "2027-01-15",
        "term_ends_on": "2028-01-14",
        "term_months": 12,
    },
    "contract_ending": {**CONTRACT, "ends_on": "2026-12-31", "days_left": 30},
    "spend_threshold": {
        **BASE,
        "threshold": "500.00",
        "spend": "512.40",
        "period_first_day": "2026-03-01",
        "period_last_day": "2026-03-31",
    },
    "spend_forecast": {
        **BASE,
        "threshold": "1000.00",
        "projected": "1240.00",
        "spend": "620.00",
        "period_first_day": "2026-03-01",
        "period_last_day": "2026-03-31",
    },
    "credits_low": {
        **CONTRACT,
        "granted": "50.00",
        "remaining": "8.00",
        "granted_on": "2026-01-15",
        "expires_on": "2026-12-31",
    },
}

SUBJECTS = {
    "trial_ending": "Your Pro trial ends in 3 days",
    "trial_ended": "Your Pro trial has ended",
    "renewal_upcoming": "Your Pro contract renews in 30 days",
    "renewed": "Your Pro contract has renewed for 12 months",
    "contract_ending": "Your Pro contract ends in 30 days",
    "spend_threshold": "Acme Inc: spend passed $500.00 this period",
    "spend_forecast": "Acme Inc: spend on course to pass $1000.00 this period",
    "credits_low": "Acme Inc: $8.00 of prepaid credit left",
}

# what each kind's text and HTML must both say: the news, its days and amounts
SAYS = {
    "trial_ending": ["15 Mar 2026", "3 days", "$30.00 per period", "minimum commitment of", "$100.00"],
    "trial_ended": ["billing started on", "15 Mar 2026", "$30.00 per period", "$100.00"],
    "renewal_upcoming": ["15 Jan 2027", "30 days", "12 months", "$30.00 per period", "$100.00"],
    "renewed": ["15 Jan 2027", "14 Jan 2028", "12 months"],
    "contract_ending": ["31 Dec 2026", "30 days", "last billed day", "does not renew"],
    "spend_threshold": ["1 Mar 2026 – 31 Mar 2026", "$512.40", "$500.00"],
    "spend_forecast": ["1 Mar 2026 – 31 Mar 2026", "$1240.00", "$1000.00", "$620.00"],
    "credits_low": ["$50.00", "15 Jan 2026", "$8.00", "31 Dec 2026", "Pro"],
}


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_each_kind_renders_subject_text_and_html(kind: str) -> None:
    mail = render_email(kind, CONTEXTS[kind])
    assert mail.subject == SUBJECTS[kind]
    assert mail.text.startswith("Hello Acme Inc,\n\n")
    assert "{{" not in mail.text + mail.html and "\n\n\n" not in mail.text
    assert mail.html.startswith("<!doctype html>") and mail.html.rstrip().endswith("</html>")
    assert "Hello Acme Inc," in mail.html and "Account acme" in mail.html
    for words in SAYS[kind]:
        assert words in mail.text, (kind, words)
        assert words in mail.html, (kind, words)


NOT_REQUIRED = {
    ("renewed", "currency"),  # no amount to show
    ("contract_ending", "currency"),
    ("credits_low", "plan_name"),  # says which contract's credit when it knows
}


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_a_missing_variable_is_an_error_not_a_blank(kind: str) -> None:
    for name in CONTEXTS[kind]:
        if (kind, name) in NOT_REQUIRED:
            continue
        context = {k: v for k, v in CONTEXTS[kind].items() if k != name}
        with pytest.raises(UndefinedError):
            render_email(kind, context)


@pytest.mark.parametrize("kind", sorted(CONTEXTS))
def test_the_html_escapes_the_customers_name(kind: str) -> None:
    context = CONTEXTS[kind] | {"customer_name": "<script>alert(1)</script>", "plan_name": "Pro & <b>"}
    mail = render_email(kind, context)
    assert "<script>" not in mail.html and "<b>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "Hello <script>alert(1)</script>," in mail.text  # text is not HTML: left as it is


@pytest.mark.parametrize(
    ("currency", "threshold", "spend", "shown"),
    [
        ("JPY", "50000", "51230", ("¥50000", "¥51230")),
        ("KWD", "150.000", "151.125", ("150.000 KWD", "151.125 KWD")),
    ],
)
def test_amounts_show_their_currencys_digits(currency, threshold, spend, shown) -> None:
    context = CONTEXTS["spend_threshold"] | {"currency": currency, "threshold": threshold, "spend": spend}
    mail = render_email("spend_threshold", context)
    assert mail.subject == f"Acme Inc: spend passed {shown[0]} this period"
    for amount in shown:
        assert amount in mail.text and amount in mail.html


def test_a_minimum_commitment_is_mentioned_only_where_the_plan_has_one() -> None:
    for kind in ("trial_ending", "trial_ended", "renewal_upcoming"):
        without = render_email(kind, CONTEXTS[kind] | {"minimum_commitment": None, "recurring_fee": None})
        assert "minimum" not in (without.text + without.html).lower()
        assert "usage" in without.text and "none: usage only" in without.html


def test_one_day_left_is_one_day() -> None:
    for kind in ("trial_ending", "renewal_upcoming", "contract_ending"):
        mail = render_email(kind, CONTEXTS[kind] | {"days_left": 1})
        assert mail.subject.endswith("in 1 day")
        assert "1 day" in mail.text and "1 days" not in mail.text + mail.html


def test_a_credit_without_expiry_says_so() -> None:
    mail = render_email("credits_low", CONTEXTS["credits_low"] | {"expires_on": None})
    assert "serves invoices issued through" not in mail.text
    assert "never" in mail.html


def test_a_forecast_without_a_projected_amount_still_warns() -> None:
    mail = render_email("spend_forecast", CONTEXTS["spend_forecast"] | {"projected": None})
    assert "is on course to pass your alert at $1000.00" in mail.text
    assert "past $1000.00" in mail.html and "None" not in mail.text + mail.html


def test_money_is_exact_and_refuses_floats() -> None:
    assert money("0.10", "USD") == "$0.10"
    assert money(Decimal("-3.50"), "EUR") == "-€3.50"
    assert money("0.005", "USD") == "$0.005"  # a display never rounds
    assert money("$30.00", "USD") == "$30.00"  # queued before amounts were plain text
    for bad in (0.1, None, True):
        with pytest.raises(MoneyError):
            money(bad, "USD")  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10_000))
def test_plural(count: int) -> None:
    shown = plural(count, "day")
    assert shown == ("1 day" if count == 1 else f"{count} days")
