"""Console links (SPEC §8): the signed `/console/open` link an email carries, one customer's and
expiring; never usable as a console token, nor a token as a link."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core import console_tokens
from billing.core.console_links import (
    MAX_LIFETIME_DAYS,
    OPEN_PATH,
    link_expiry,
    sign_link,
    verify_link,
)
from billing.core.errors import BillingError
from billing.runtime.settings import Settings, check_public_url
from billing.services.console_links import ConsoleLinks

SECRET = "console-secret-for-tests-0123456789abcdef"
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
MONTH = timedelta(days=30)
CUSTOMERS = st.text(min_size=1, max_size=60).filter(lambda c: "\x00" not in c)


def signed(customer: str = "acme", now: datetime = NOW, lifetime: timedelta = MONTH) -> tuple[str, str, str]:
    expires = link_expiry(now, lifetime)
    return customer, str(expires), sign_link(SECRET, customer, expires)


def opens(
    customer: str, expires: str, sig: str, now: datetime = NOW, lifetime: timedelta = MONTH
) -> str | None:
    return verify_link(SECRET, customer, expires, sig, now, lifetime)


@given(CUSTOMERS)
def test_a_link_opens_its_own_customer(customer: str) -> None:
    assert opens(*signed(customer)) == customer


@given(CUSTOMERS, CUSTOMERS)
def test_a_link_never_opens_another_customer(customer: str, other: str) -> None:
    _, expires, sig = signed(customer)
    assert opens(other, expires, sig) == (other if other == customer else None)


def test_every_changed_character_of_the_signature_is_refused() -> None:
    customer, expires, sig = signed()
    for index, char in enumerate(sig):
        swapped = "A" if char != "A" else "B"
        assert opens(customer, expires, sig[:index] + swapped + sig[index + 1 :]) is None, index


def test_a_changed_expiry_is_refused_even_an_earlier_one() -> None:
    customer, expires, sig = signed()
    for other in (int(expires) - 1, int(expires) + 1, int(expires) - 86_400):
        assert opens(customer, str(other), sig) is None


def test_it_expires_after_its_lifetime_and_not_before() -> None:
    link = signed()
    assert opens(*link, now=NOW + MONTH - timedelta(seconds=1)) == "acme"
    assert opens(*link, now=NOW + MONTH) is None
    assert opens(*link, now=NOW + MONTH + timedelta(days=400)) is None


def test_a_link_signed_for_longer_than_the_setting_is_refused() -> None:
    """Shortening BILLING_CONSOLE_LINK_DAYS refuses the links signed under a longer one."""
    long = signed(lifetime=timedelta(days=60))
    assert opens(*long, lifetime=timedelta(days=60)) == "acme"
    assert opens(*long, lifetime=MONTH) is None


def test_a_link_of_another_secret_is_refused() -> None:
    customer, expires, _ = signed()
    other = sign_link("another-secret-of-forty-characters-00000", customer, int(expires))
    assert opens(customer, expires, other) is None


@pytest.mark.parametrize(
    "expires",
    ["", "0", "-1", "+{e}", " {e}", "{e} ", "0{e}", "{e}.0", "1e9", "٣", "9" * 13, "{e}\n"],
)
def test_malformed_expiries_are_refused(expires: str) -> None:
    customer, good, sig = signed()
    assert opens(customer, expires.format(e=good), sig) is None


@pytest.mark.parametrize("sig", ["", "x", "=" * 43, "é" * 43, "A" * 44, "A" * 10_000])
def test_malformed_signatures_are_refused(sig: str) -> None:
    customer, expires, _ = signed()
    assert opens(customer, expires, sig) is None


@pytest.mark.parametrize("customer", [None, "", "\ud800", "a" * 1_001])
def test_missing_or_impossible_customers_are_refused(customer: str | None) -> None:
    _, expires, _ = signed()
    sig = sign_link(SECRET, "acme", int(expires))
    assert verify_link(SECRET, customer, expires, sig, NOW, MONTH) is None
    assert verify_link(SECRET, "acme", None, sig, NOW, MONTH) is None
    assert verify_link(SECRET, "acme", expires, None, NOW, MONTH) is None


@given(CUSTOMERS, st.binary(min_size=12, max_size=12))
def test_a_session_token_is_never_a_link_nor_a_link_a_session_token(customer: str, nonce: bytes) -> None:
    expires_at = NOW + timedelta(minutes=30)
    expires = int(expires_at.timestamp())
    token = console_tokens.sign(SECRET, customer, expires_at, nonce)
    token_sig = token.rsplit(".", 1)[1]
    # a token's signature over the same customer and expiry does not open a link
    assert opens(customer, str(expires), token_sig) is None
    # a link's signature put in a token of the same customer and expiry is not a token
    link_sig = sign_link(SECRET, customer, expires)
    assert link_sig != token_sig
    forged = f"{token.rsplit('.', 1)[0]}.{link_sig}"
    assert console_tokens.verify(SECRET, forged, NOW) is None
    assert console_tokens.verify(SECRET, token, NOW) is not None  # the token itself is good


def test_links_are_signed_under_a_key_of_their_own_not_the_secret_itself() -> None:
    customer, expires, sig = signed()
    raw = hmac.new(SECRET.encode(), f"{expires}\n{customer}".encode(), hashlib.sha256).digest()
    assert sig != base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_the_lifetime_is_one_to_the_maximum_days() -> None:
    with pytest.raises(ValueError, match="1 to 90 days"):
        link_expiry(NOW, timedelta(0))
    with pytest.raises(ValueError, match="1 to 90 days"):
        link_expiry(NOW, timedelta(days=MAX_LIFETIME_DAYS + 1))
    with pytest.raises(ValueError, match="one customer"):
        sign_link(SECRET, "", 1)


def test_the_url_is_absolute_under_the_public_url_and_holds_no_token() -> None:
    link = ConsoleLinks(SECRET, "https://billing.example/", 30).link("a&b c", NOW)
    parts = urlsplit(link.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "billing.example", OPEN_PATH)
    query = parse_qs(parts.query)
    assert set(query) == {"customer", "expires", "sig"} and query["customer"] == ["a&b c"]
    assert int(query["expires"][0]) == int((NOW + MONTH).timestamp())
    assert opens("a&b c", query["expires"][0], query["sig"][0]) == "a&b c"
    assert "token" not in link.url and "c1." not in link.url and link.days == 30
    assert SECRET not in repr(ConsoleLinks(SECRET, "https://billing.example", 30))


@pytest.mark.parametrize(
    ("given_url", "kept"),
    [
        ("https://billing.example.com", "https://billing.example.com"),
        (" https://billing.example.com/base/ ", "https://billing.example.com/base"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ],
)
def test_a_public_url_is_kept_without_its_trailing_slash(given_url: str, kept: str) -> None:
    assert check_public_url(given_url) == kept
    assert Settings(public_url=given_url).public_url == kept


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("billing.example.com", "http:// or https:// URL"),
        ("ftp://billing.example.com", "http:// or https:// URL"),
        ("https://", "http:// or https:// URL"),
        ("https://billing.example.com/?x=1", "no ?query nor #fragment"),
        ("https://billing.example.com/#top", "no ?query nor #fragment"),
        ("https://billing.example.com:port", "port"),
    ],
)
def test_a_bad_public_url_is_a_clear_error_naming_the_variable(monkeypatch, bad: str, says: str) -> None:
    from billing.runtime.settings import get_settings

    monkeypatch.setenv("BILLING_PUBLIC_URL", bad)
    get_settings.cache_clear()
    try:
        with pytest.raises(BillingError, match="BILLING_PUBLIC_URL") as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert says in str(raised.value)


def test_unset_the_console_points_at_the_local_api_and_emails_carry_no_link() -> None:
    from billing.runtime.resources import console_links

    assert Settings(public_url="").public_url is None
    assert Settings().console_public_url == "http://127.0.0.1:8000"
    assert console_links(Settings(console_secret=SECRET)) is None
    assert console_links(Settings(public_url="https://billing.example")) is None
    made = console_links(Settings(console_secret=SECRET, public_url="https://b.example", console_link_days=7))
    assert made is not None and (made.public_url, made.days) == ("https://b.example", 7)
