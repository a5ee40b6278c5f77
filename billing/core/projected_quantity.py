"""How a projected quantity is written for people: a forecast of billable units, shown at the
precision the metric has been measured at, rounded up.

A projection (`billing.core.spend`) scales a `count` or `sum` quantity by the elapsed share of
its segment: `quantity x length / elapsed`, rounded up at 80 significant digits so that it is
never below what it projects. That exact value is what the projection is priced on and stays
so; printed as it is it runs to some eighty digits ("1234.5675675675...").
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Context, Decimal

from billing.core.money import decimal_places

# Metered quantities have at most 30 integer and 30 fractional digits (SPEC §5), so a quantity
# written at the digits of what was metered fits in 200.
_DISPLAY = Context(prec=200, rounding=ROUND_CEILING)


def display_projection(projected: Decimal, so_far: Decimal) -> Decimal:
    """`projected` for display: rounded up (towards +infinity) to the decimals the quantity
    metered so far has (`so_far`: the line's quantity; a count and a sum of whole values have
    none).

    Why these digits: SPEC §8 and §9 project the quantity "at its run rate so far", a forecast
    of billable units, not a measurement; writing it more precisely than the metric has ever
    been measured claims a precision it has not. The metered quantity's own digits are the
    metric's precision as its events carry it (a count in whole calls, gigabytes to the tenth
    when the events say 120.5), so the projection reads in the same units as the line it
    forecasts. A held quantity (`max`, `latest`, `unique_count`) and a finished period
    project the metered value itself, which this writes unchanged.

    Why up: the projection is computed rounded up (ceiling), so that an alert is warned of
    rather than missed; the quantity shown must not be below the one the projected amount was
    priced on, or the figures would contradict each other (a projected 1,235 calls priced as
    1,234.57 shown as "1,235" is consistent; shown as "1,234" it is not). Rounding to the
    nearest could show fewer units than were priced. Amounts are not rounded here: the
    projected lines are priced and rounded to minor units by the rating code."""
    return projected.quantize(Decimal(1).scaleb(-decimal_places(so_far)), context=_DISPLAY)
