"""BILLING_WEBHOOK_URL and BILLING_WEBHOOK_SECRET: both or neither, a whsec_ secret in base64,
an http(s) URL; a bad one refused in one line naming the variable, the secret never echoed."""

from __future__ import annotations

import base64

import pytest

from billing.core.errors import BillingError
from billing.runtime import resources
from billing.runtime.settings import get_settings

KEY = base64.b64encode(b"k" * 32).decode()
GOOD = f"whsec_{KEY}"


@pytest.fixture
def env(monkeypatch):
    def setting(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"BILLING_{name.upper()}", value)
        get_settings.cache_clear()

    yield setting
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"webhook_url": "https://hooks.example/billing"},
            "BILLING_WEBHOOK_URL is set but BILLING_WEBHOOK_SECRET is not",
        ),
        ({"webhook_secret": GOOD}, "BILLING_WEBHOOK_SECRET is set but BILLING_WEBHOOK_URL is not"),
        (
            {"webhook_url": "https://hooks.example/billing", "webhook_secret": KEY},
            "BILLING_WEBHOOK_SECRET: must start with 'whsec_' followed by the key in base64",
        ),
        (
            {"webhook_url": "https://hooks.example/billing", "webhook_secret": "whsec_not*base64!"},
            "BILLING_WEBHOOK_SECRET: the key after 'whsec_' is not valid base64",
        ),
        (
            {"webhook_url": "https://hooks.example/billing", "webhook_secret": "whsec_c2hvcnQ="},
            "BILLING_WEBHOOK_SECRET: the key after 'whsec_' must be at least 24 bytes",
        ),
        (
            {"webhook_url": "ftp://hooks.example/billing", "webhook_secret": GOOD},
            "BILLING_WEBHOOK_URL: must be an http:// or https:// URL with a host",
        ),
        (
            {"webhook_url": "hooks.example/billing", "webhook_secret": GOOD},
            "BILLING_WEBHOOK_URL: must be an http",
        ),
    ],
)
def test_a_bad_webhook_setting_is_refused_in_one_line_without_the_secret(env, values, message):
    env(**values)
    with pytest.raises(BillingError) as refused:
        get_settings()
    text = str(refused.value)
    assert text.startswith(message), text
    assert "\n" not in text
    secret = values.get("webhook_secret", "")
    assert not secret or secret.removeprefix("whsec_") not in text


def test_a_configured_webhook_adds_the_channel_and_builds_its_sender(env):
    env()
    assert resources.notification_channels() == ("email",)
    assert resources.webhook_sender() is None
    env(webhook_url="https://user:pw@hooks.example/billing?token=abc", webhook_secret=f" {GOOD} ")
    assert resources.notification_channels() == ("email", "webhook")
    sender = resources.webhook_sender()
    assert sender is not None and repr(sender) == "WebhookSender(url='https://hooks.example')"
    assert [s.channel for s in resources.channel_senders()] == ["email", "webhook"]
