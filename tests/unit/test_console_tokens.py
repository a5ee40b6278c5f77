"""Console tokens (SPEC §8): signed, bound to one customer, short-lived; anything else refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.console_tokens import MAX_TTL, ConsoleGrant, sign, verify
from billing.core.frame_ancestors import check_frame_ancestors

SECRET = "k" * 32 + "-console-secret"
NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
NONCE = bytes(range(12))


def token(customer: str = "bravo", ttl: timedelta = timedelta(minutes=30), secret: str = SECRET) -> str:
    return sign(secret, customer, NOW + ttl, NONCE)


def test_a_token_grants_its_customer_until_it_expires() -> None:
    assert verify(SECRET, token(), NOW) == ConsoleGrant("bravo", NOW + timedelta(minutes=30))
    assert verify(SECRET, token(), NOW + timedelta(minutes=29, seconds=59)) is not None
    assert verify(SECRET, token(), NOW + timedelta(minutes=30)) is None  # expired at its instant
    assert verify(SECRET, token(), NOW + timedelta(days=400)) is None


def test_a_token_further_out_than_sixty_minutes_is_refused() -> None:
    assert verify(SECRET, token(ttl=MAX_TTL), NOW) is not None
    assert verify(SECRET, token(ttl=MAX_TTL + timedelta(seconds=1)), NOW) is None


def test_another_secret_or_version_is_refused() -> None:
    assert verify("z" * 40, token(), NOW) is None
    assert verify(SECRET, "c2" + token()[2:], NOW) is None


@pytest.mark.parametrize(
    "bad", [None, "", ".", "c1..", "c1.abc.", "c1..abc", "c1.a.b.c", "\x00", "\ud800", "é" * 10, "x" * 10_000]
)
def test_malformed_tokens_are_refused(bad) -> None:
    assert verify(SECRET, bad, NOW) is None


def test_a_customer_id_with_colons_and_unicode_round_trips() -> None:
    grant = verify(SECRET, token("a:b:ü"), NOW)
    assert grant is not None and grant.customer_id == "a:b:ü"


def test_nonces_make_tokens_differ() -> None:
    assert sign(SECRET, "bravo", NOW, b"1" * 12) != sign(SECRET, "bravo", NOW, b"2" * 12)


def test_short_secrets_and_empty_customers_are_refused_when_signing() -> None:
    with pytest.raises(ValueError):
        sign("short", "bravo", NOW, NONCE)
    with pytest.raises(ValueError):
        sign(SECRET, "", NOW, NONCE)


@given(position=st.integers(min_value=0), replacement=st.characters(codec="utf-8"))
def test_any_changed_character_is_refused(position: int, replacement: str) -> None:
    original = token()
    index = position % len(original)
    if original[index] == replacement:
        return
    tampered = original[:index] + replacement + original[index + 1 :]
    assert verify(SECRET, tampered, NOW) is None


@given(st.text(max_size=200))
def test_arbitrary_text_is_never_a_token(text: str) -> None:
    assert verify(SECRET, text, NOW) is None


@given(cut=st.integers(min_value=1), extra=st.text(min_size=1, max_size=5))
def test_truncated_or_extended_tokens_are_refused(cut: int, extra: str) -> None:
    original = token()
    assert verify(SECRET, original[: cut % len(original)], NOW) is None
    assert verify(SECRET, original + extra, NOW) is None


@pytest.mark.parametrize(
    "value, expected",
    [
        ("'self'", "'self'"),
        ("'self'  https://app.example.com", "'self' https://app.example.com"),
        (
            "https://*.example.com:8443 http://127.0.0.1:5173 https:",
            "https://*.example.com:8443 http://127.0.0.1:5173 https:",
        ),
        ("'none'", "'none'"),
    ],
)
def test_frame_ancestors_source_expressions(value: str, expected: str) -> None:
    assert check_frame_ancestors(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "'self'; script-src *",
        "https://a.example, https://b.example",
        "'self'\nX-Frame-Options: DENY",
        "",
        "'none' 'self'",
        "'unsafe-inline'",
        "https://exa mple.com\x00",
        "https://ex\u00e4mple.com",
        '"https://a.example"',
    ],
)
def test_frame_ancestors_refuse_anything_else(value: str) -> None:
    with pytest.raises(ValueError):
        check_frame_ancestors(value)
