"""A projected quantity is written at the digits of the quantity metered so far, rounded up:
never below the quantity the projection is priced on, less than one of those digits above it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal as D
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.money import decimal_places
from billing.core.projected_quantity import display_projection
from billing.core.spend import elapsed_share


def test_a_count_projected_over_a_third_of_march_is_whole_calls_rounded_up():
    share = elapsed_share(date(2026, 3, 1), date(2026, 4, 1), datetime(2026, 3, 11), ZoneInfo("UTC"))
    exact = share.scale(D(7))  # 7 x 31 / 10, exact: 21.7
    assert exact == D("21.7")
    assert display_projection(exact, D(7)) == D(22)
    odd = elapsed_share(date(2026, 3, 1), date(2026, 4, 1), datetime(2026, 3, 20, 12), ZoneInfo("UTC"))
    long = odd.scale(D(7))
    assert len(str(long)) > 60  # what the answer printed before
    assert display_projection(long, D(7)) == D(12)
    assert display_projection(odd.scale(D("120.5")), D("120.5")) == D("191.6")
    assert display_projection(D("-3.21"), D("-1.5")) == D("-3.2")  # up: towards +infinity


@settings(max_examples=300, deadline=None)
@given(
    so_far=st.decimals("-1000", "1000", places=3),
    elapsed=st.integers(1, 10**6),
    extra=st.integers(0, 10**6),
)
def test_never_below_the_projection_and_less_than_one_digit_above(so_far, elapsed, extra):
    share = elapsed_share(date(2026, 3, 1), date(2026, 3, 2), datetime(2026, 3, 1), ZoneInfo("UTC"))
    share = type(share)(elapsed, elapsed + extra)
    exact = share.scale(so_far)
    shown = display_projection(exact, so_far)
    digit = D(1).scaleb(-decimal_places(so_far))
    assert exact <= shown < exact + digit
    assert decimal_places(shown) <= decimal_places(so_far)
    if extra == 0:
        assert shown == so_far  # a finished period (or a held quantity) is written as metered
