"""BILLING_CONSOLE_SECRET and BILLING_CONSOLE_FRAME_ANCESTORS, checked when settings load: there
is no default secret (unset, the console is off), a short one is refused, and the frame
ancestors are source expressions a CSP header can carry as they are."""

from __future__ import annotations

import pytest

from billing.core.errors import BillingError
from billing.runtime.settings import get_settings


def _load(monkeypatch, **variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return get_settings()
    finally:
        get_settings.cache_clear()


def test_the_console_is_off_without_a_secret(monkeypatch) -> None:
    monkeypatch.delenv("BILLING_CONSOLE_SECRET", raising=False)
    assert _load(monkeypatch).console_secret is None
    assert _load(monkeypatch, BILLING_CONSOLE_SECRET="  ").console_secret is None


def test_a_short_secret_is_refused_without_echoing_it(monkeypatch) -> None:
    with pytest.raises(BillingError) as raised:
        _load(monkeypatch, BILLING_CONSOLE_SECRET="change-me-console-secret")
    message = str(raised.value)
    assert message.startswith("BILLING_CONSOLE_SECRET: must be at least 32 characters (got 24)")
    assert "change-me" not in message


def test_a_long_secret_is_kept(monkeypatch) -> None:
    settings = _load(monkeypatch, BILLING_CONSOLE_SECRET="x" * 32)
    assert settings.console_secret is not None
    assert settings.console_secret.get_secret_value() == "x" * 32


@pytest.mark.parametrize("value", ["'self'; script-src *", "'self'\r\nX-Frame-Options: DENY", "a,b"])
def test_frame_ancestors_that_are_not_source_expressions_are_refused(monkeypatch, value) -> None:
    with pytest.raises(BillingError) as raised:
        _load(monkeypatch, BILLING_CONSOLE_FRAME_ANCESTORS=value)
    assert str(raised.value).startswith("BILLING_CONSOLE_FRAME_ANCESTORS: holds")


def test_frame_ancestors_are_kept_normalised(monkeypatch) -> None:
    settings = _load(monkeypatch, BILLING_CONSOLE_FRAME_ANCESTORS="'self'   https://app.example.com")
    assert settings.console_frame_ancestors == "'self' https://app.example.com"
