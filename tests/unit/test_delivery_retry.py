"""Backoff and the bound on tries: 1 min, 2, 4 … capped at 1 h; the 8th failure is final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.delivery_retry import LONGEST_RETRY, MAX_ATTEMPTS, next_try, retry_delay

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_delays_double_from_a_minute_up_to_an_hour():
    minutes = [retry_delay(n) / timedelta(minutes=1) for n in range(1, MAX_ATTEMPTS)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60]


@given(st.integers(min_value=1, max_value=10_000))
def test_a_delay_never_shrinks_and_never_passes_the_cap(attempts):
    assert retry_delay(attempts) <= retry_delay(attempts + 1) <= LONGEST_RETRY


@given(st.integers(min_value=1, max_value=MAX_ATTEMPTS - 1))
def test_a_retryable_failure_before_the_last_try_is_tried_again_after_its_delay(attempts):
    assert next_try(attempts, True, NOW) == NOW + retry_delay(attempts)


@given(st.integers(min_value=1, max_value=1_000), st.booleans())
def test_the_last_try_and_a_permanent_failure_are_final(attempts, retryable):
    final = next_try(attempts, retryable, NOW) is None
    assert final == (not retryable or attempts >= MAX_ATTEMPTS)


def test_a_delivery_never_tried_has_no_delay():
    with pytest.raises(ValueError, match="at least once"):
        retry_delay(0)
