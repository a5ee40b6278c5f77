"""BILLING_API_RATE_LIMIT and BILLING_API_RATE_BURST: a value the limiter cannot use is a
settings error naming the variable and the value, before the server starts."""

from __future__ import annotations

import pytest

from billing.core.errors import BillingError
from billing.runtime.settings import get_settings


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("BILLING_API_RATE_LIMIT", "0", "must be greater than 0.0"),
        ("BILLING_API_RATE_LIMIT", "-5", "must be greater than 0.0"),
        ("BILLING_API_RATE_LIMIT", "1e400", "must be a finite number"),
        ("BILLING_API_RATE_LIMIT", "nan", "must be a finite number"),
        ("BILLING_API_RATE_LIMIT", "inf", "must be a finite number"),
        ("BILLING_API_RATE_LIMIT", "2000000", "must be 1000000.0 or less"),
        ("BILLING_API_RATE_LIMIT", "fast", "is not a valid value"),
        ("BILLING_API_RATE_BURST", "0", "must be 1 or more"),
        ("BILLING_API_RATE_BURST", "-1", "must be 1 or more"),
        ("BILLING_API_RATE_BURST", "1.5", "must be a whole number"),
        ("BILLING_API_RATE_BURST", "1" + "0" * 30, "must be 1000000 or less"),
        ("BILLING_API_RATE_BURST", "many", "must be a whole number"),
    ],
)
def test_an_unusable_rate_limit_is_a_settings_error(monkeypatch, variable, value, says) -> None:
    monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    try:
        with pytest.raises(BillingError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(raised.value) == f"{variable}: {says} (got {value!r})"


def test_fractional_rates_and_the_largest_limits_are_accepted(monkeypatch) -> None:
    monkeypatch.setenv("BILLING_API_RATE_LIMIT", "0.25")
    monkeypatch.setenv("BILLING_API_RATE_BURST", "1000000")
    get_settings.cache_clear()
    try:
        settings = get_settings()
    finally:
        get_settings.cache_clear()
    assert (settings.api_rate_limit, settings.api_rate_burst) == (0.25, 1_000_000)
