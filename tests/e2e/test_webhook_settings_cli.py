"""A misconfigured webhook stops a scan, a run and the server before they start: one line on
stderr naming the variable, never the secret."""

from __future__ import annotations

import pytest

from tests.e2e.test_cli import billing, fresh_database, one_line_refusal  # noqa: F401 (a fixture)

SECRET = "whsec_dG9wLXNlY3JldC1ieXRlcy10b3Atc2VjcmV0LWJ5dGVz"


URL = {"BILLING_WEBHOOK_URL": "https://hooks.example/b"}


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        (["lifecycle", "scan"], URL, "billing: BILLING_WEBHOOK_URL is set but BILLING_WEBHOOK_SECRET is not"),
        (["invoice"], URL, "billing: BILLING_WEBHOOK_URL is set but BILLING_WEBHOOK_SECRET is not"),
        (
            ["serve", "--port", "1"],
            URL,
            "billing: BILLING_WEBHOOK_URL is set but BILLING_WEBHOOK_SECRET is not",
        ),
        (
            ["lifecycle", "scan"],
            {**URL, "BILLING_WEBHOOK_SECRET": SECRET[6:]},
            "billing: BILLING_WEBHOOK_SECRET: must start with 'whsec_'",
        ),
        (
            ["lifecycle", "scan"],
            {"BILLING_WEBHOOK_URL": "file:///etc/passwd", "BILLING_WEBHOOK_SECRET": SECRET},
            "billing: BILLING_WEBHOOK_URL: must be an http:// or https:// URL",
        ),
    ],
)
def test_a_bad_webhook_setting_refuses_to_start(fresh_database, command, env, message):  # noqa: F811
    result = billing(*command, env={**fresh_database, **env})
    one_line_refusal(result, message)
    assert SECRET[6:] not in result.stderr
