"""Backoff and the bound on tries: 1 min, 2, 4 … capped at 1 h; the 8th failure is final."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.delivery_retry import LONGEST_ASKED_WAIT, LONGEST_RETRY, MAX_ATTEMPTS, next_try, retry_delay
from billing.notify.backends import retry_after

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


def test_a_wait_the_receiver_asks_for_is_a_floor_under_the_backoff_and_bounded():
    assert next_try(1, True, NOW, timedelta(minutes=10)) == NOW + timedelta(minutes=10)
    assert next_try(3, True, NOW, timedelta(seconds=5)) == NOW + retry_delay(3)  # the backoff is longer
    assert next_try(1, True, NOW, timedelta(days=400)) == NOW + LONGEST_ASKED_WAIT
    assert next_try(MAX_ATTEMPTS, True, NOW, timedelta(minutes=10)) is None
    assert next_try(1, False, NOW, timedelta(minutes=10)) is None


@pytest.mark.parametrize(
    ("header", "wait"),
    [
        ("120", timedelta(minutes=2)),
        (" 0 ", timedelta(0)),
        ("Sun, 01 Mar 2026 00:05:00 GMT", timedelta(minutes=5)),
        ("Sat, 28 Feb 2026 00:00:00 GMT", timedelta(0)),  # a date gone by: no wait
        ("9" * 400, timedelta(seconds=10**7)),  # huge: bounded, not an overflow
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("１２", None),  # full-width digits are not delay-seconds
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header, wait):
    assert retry_after(header, NOW) == wait
