"""The per-key token bucket: a burst at once, then the average rate, each key on its own."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.api.rate_limit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_rate_and_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    assert [limiter.wait("a") for _ in range(3)] == [None, None, None]
    assert limiter.wait("a") == pytest.approx(0.5)  # refused: a token every 0.5 s
    clock.now = 0.5
    assert limiter.wait("a") is None
    assert limiter.wait("a") == pytest.approx(0.5)
    assert limiter.wait("b") is None  # another key has its own bucket
    clock.now = 100.0
    assert [limiter.wait("a") for _ in range(4)] == [None, None, None, pytest.approx(0.5)]  # burst cap


def test_refused_requests_take_no_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=1, burst=1, clock=clock)
    assert limiter.wait("a") is None
    assert all(limiter.wait("a") is not None for _ in range(50))
    clock.now = 1.0
    assert limiter.wait("a") is None


@given(st.lists(st.floats(min_value=0, max_value=0.5), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(steps: list[float]) -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=5, clock=clock)
    allowed = 0
    for step in steps:
        clock.now += step
        allowed += limiter.wait("k") is None
    assert allowed <= 5 + 10 * clock.now + 1e-6


def test_retry_after_is_whole_seconds_never_zero() -> None:
    assert [retry_after(s) for s in (0.0001, 0.5, 1.0, 1.2)] == ["1", "1", "1", "2"]


def test_a_limit_needs_a_positive_rate_and_burst() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate=1, burst=0)
