"""The drafting shortcuts compute exactly what the plain definitions compute."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.events import dumps
from billing.core.invoicing import _jsonable, closing_periods, rating_fingerprint
from billing.core.line_keys import SegmentId
from billing.core.periods import Schedule
from billing.core.pricing.base import Coverage, MeteredUsage
from billing.core.rating import PricedLines, rate_in_advance, rate_segment

leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
)
values = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6) | st.dates(), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.lists(values, max_size=4))
def test_the_fingerprint_hashes_the_canonical_json_of_its_inputs(inputs):
    expected = hashlib.sha256(dumps(_jsonable(tuple(inputs))).encode()).hexdigest()[:32]
    assert rating_fingerprint(*inputs) == expected


PLAN_CHARGES = [
    {"model": "flat", "amount": "30.00"},
    {"model": "flat", "amount": "99.00", "timing": "in_arrears", "description": "Support"},
    {"model": "flat", "amount": "5.00", "description": "Platform"},
    {"model": "per_unit", "metric": "calls", "unit_price": "0.01"},
]
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {"code": "p", "interval": "monthly", "minimum_commitment": "500.00", "charges": PLAN_CHARGES},
            {"code": "u", "interval": "monthly", "charges": PLAN_CHARGES[3:]},
        ],
        "customers": [
            {
                "id": "acme",
                "email": "a@acme.example",
                "timezone": "Europe/Paris",
                "contracts": [
                    {"plan": "p", "starts_on": "2026-01-10", "ends_on": "2026-03-19"},
                    {"plan": "u", "starts_on": "2026-03-20"},
                ],
            }
        ],
    }
)


@given(st.integers(min_value=0, max_value=6))
def test_in_advance_rating_equals_the_in_advance_lines_of_the_whole_segment(index):
    schedule = Schedule.of(CATALOG, "acme")
    period = schedule.period(index)
    assert period is not None
    segments = schedule.segments(period)
    assert segments
    for segment in segments:
        expected = rate_segment(segment, {}, CATALOG).in_advance
        assert rate_in_advance(segment, CATALOG) == expected
    assert any(rate_in_advance(s, CATALOG) for s in segments) == (index <= 2)


def test_the_fingerprint_of_a_draft_does_not_change_with_the_encoder():
    stamp = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=5)
    inputs = ("v1", "acme", 3, [[stamp, {"calls": [Decimal("12.50"), 3]}]], {date(2026, 3, 1): "é"})
    assert (
        rating_fingerprint(*inputs)
        == hashlib.sha256(
            b'["v1","acme",3,[["2026-03-01T05:00:00Z",{"calls":[12.5,3]}]],{"2026-03-01":"\xc3\xa9"}]'
        ).hexdigest()[:32]
    )


@given(st.integers(min_value=0, max_value=6))
def test_a_segment_s_coverage_and_id_are_its_own_days_and_keys(index):
    schedule = Schedule(CATALOG, CATALOG.customer("acme"))  # its own: nothing laid out yet
    period = schedule.period(index)
    assert period is not None
    for segment in schedule.segments(period):
        assert segment.coverage == Coverage((segment.end_date - segment.start_date).days, period.days)
        assert segment.id == SegmentId(segment.term.contract.starts_on, period.start_date)


def test_the_closing_period_is_the_one_before_the_boundary_laid_out_or_not():
    schedule = Schedule(CATALOG, CATALOG.customer("acme"))
    assert closing_periods(schedule, 0) == []
    assert closing_periods(schedule, 5) == [schedule.period(4)]  # laid out on the way
    assert [p.index for p in closing_periods(schedule, 3)] == [2]  # laid out already
    assert schedule.period(-1) is None


def test_a_memo_entry_serves_only_the_charge_it_was_priced_for():
    segment = Schedule.of(CATALOG, "acme").segments(Schedule.of(CATALOG, "acme").period(1))[0]
    usage = {"calls": MeteredUsage(Decimal(400), 400)}
    plain_lines = rate_segment(segment, usage, CATALOG).lines
    memo = PricedLines()
    assert rate_segment(segment, usage, CATALOG, memo).lines == plain_lines  # filled
    assert rate_segment(segment, usage, CATALOG, memo).lines == plain_lines  # served
    # every entry handed to another charge object (as if its identity had been reused)
    for key, (charge, line) in list(memo.entries.items()):
        memo.entries[key] = (charge.model_copy(), line._replace(amount=Decimal("1.23")))
    assert rate_segment(segment, usage, CATALOG, memo).lines == plain_lines
    # and entries of the right charge are what it reads
    for key, (charge, line) in list(memo.entries.items()):
        memo.entries[key] = (charge, line._replace(amount=line.amount + 1))
    served = rate_segment(segment, usage, CATALOG, memo).lines
    assert [line.amount for line in served][:-1] == [line.amount + 1 for line in plain_lines][:-1]
