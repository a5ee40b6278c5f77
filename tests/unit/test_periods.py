"""Billing periods: anniversary periods at local midnight, month-end anchors, trials, terms and
plan changes split into segments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from billing.core.catalog import Catalog, parse_catalog
from billing.core.catalog.yaml_text import load_yaml
from billing.core.periods import Period, Schedule, local_date, local_midnight
from billing.core.pricing.base import Coverage

NEW_YORK = ZoneInfo("America/New_York")

PLANS = """\
currency: USD
metrics:
  - {code: api_calls, event_type: api_call, aggregation: count}
plans:
  - code: basic
    interval: monthly
    charges: [{model: flat, amount: "10.00"}]
  - code: pro
    interval: monthly
    charges: [{model: flat, amount: "20.00"}, {model: per_unit, metric: api_calls, unit_price: "0.01"}]
  - code: quarterly
    interval: quarterly
    charges: [{model: flat, amount: "30.00"}]
  - code: yearly
    interval: yearly
    charges: [{model: flat, amount: "100.00"}]
  - code: trial
    interval: monthly
    trial_days: 14
    charges: [{model: flat, amount: "10.00"}]
"""


def catalog_with(contracts: list[str], tz: str = "UTC") -> Catalog:
    lines = [PLANS, "customers:", "  - id: c1", "    email: c1@example.com", f"    timezone: {tz}"]
    lines.append("    contracts:" if contracts else "    contracts: []")
    lines += [f"      - {contract}" for contract in contracts]
    return parse_catalog(load_yaml("\n".join(lines) + "\n"), "test-catalog")


def schedule(*contracts: str, tz: str = "UTC") -> Schedule:
    catalog = catalog_with(list(contracts), tz)
    return Schedule(catalog, catalog.customer("c1"))


def first(s: Schedule, count: int) -> list[Period]:
    return list(islice(s.periods(), count))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def starts(periods: list[Period]) -> list[date]:
    return [p.start_date for p in periods]


# -- helpers ---------------------------------------------------------------------------------------


def test_local_midnight_and_local_date() -> None:
    assert local_midnight(date(2026, 1, 15), NEW_YORK) == utc(2026, 1, 15, 5)  # EST, UTC-5
    assert local_midnight(date(2026, 7, 15), NEW_YORK) == utc(2026, 7, 15, 4)  # EDT, UTC-4
    assert local_midnight(date(2026, 1, 1), ZoneInfo("Asia/Tokyo")) == utc(2025, 12, 31, 15)
    assert local_midnight(date(2026, 1, 1), ZoneInfo("UTC")) == utc(2026, 1, 1)
    assert local_date(utc(2026, 1, 15, 4, 59), NEW_YORK) == date(2026, 1, 14)
    assert local_date(utc(2026, 1, 15, 5), NEW_YORK) == date(2026, 1, 15)
    assert local_midnight(date(2026, 1, 1), NEW_YORK).tzinfo == UTC


def test_local_midnight_where_midnight_is_skipped_or_repeated() -> None:
    havana = ZoneInfo("America/Havana")  # Cuba changes its clocks at midnight
    # 2026-03-08: 00:00 -> 01:00 CDT; the day starts at 01:00-04:00 = 05:00Z
    assert local_midnight(date(2026, 3, 8), havana) == utc(2026, 3, 8, 5)
    # 2026-11-01: 01:00 CDT -> 00:00 CST; the day starts at the first midnight, 00:00-04:00
    assert local_midnight(date(2026, 11, 1), havana) == utc(2026, 11, 1, 4)
    for day in (date(2026, 3, 8), date(2026, 11, 1)):
        instant = local_midnight(day, havana)
        assert local_date(instant, havana) == day
        assert local_date(instant - timedelta(microseconds=1), havana) == day - timedelta(days=1)


# -- anniversary periods in the customer's time zone -----------------------------------------------


def test_monthly_periods_in_utc() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-15}")
    assert s.anchor == date(2026, 1, 15)
    assert s.trial is None
    periods = first(s, 3)
    assert [p.index for p in periods] == [0, 1, 2]
    assert periods[0] == Period(0, date(2026, 1, 15), date(2026, 2, 15), utc(2026, 1, 15), utc(2026, 2, 15))
    assert starts(periods) == [date(2026, 1, 15), date(2026, 2, 15), date(2026, 3, 15)]
    assert [p.days for p in periods] == [31, 28, 31]
    # consecutive, half-open, no gap
    for before, after in pairwise(periods):
        assert before.end == after.start
        assert before.end_date == after.start_date


def test_periods_start_at_local_midnight_across_dst_in_new_york() -> None:
    # DST in 2026: starts Sunday March 8 (EST UTC-5 -> EDT UTC-4), ends Sunday November 1.
    s = schedule("{plan: basic, starts_on: 2026-02-10}", tz="America/New_York")
    periods = first(s, 10)
    p0, p1 = periods[0], periods[1]
    assert (p0.start_date, p0.end_date) == (date(2026, 2, 10), date(2026, 3, 10))
    assert p0.start == utc(2026, 2, 10, 5)  # midnight EST
    assert p0.end == utc(2026, 3, 10, 4)  # midnight EDT: the DST month is one hour short
    assert p0.days == 28
    assert p0.end - p0.start == timedelta(days=28, hours=-1)
    assert (p1.start, p1.end) == (utc(2026, 3, 10, 4), utc(2026, 4, 10, 4))
    p8 = periods[8]  # October 10 -> November 10: one hour long
    assert (p8.start_date, p8.end_date) == (date(2026, 10, 10), date(2026, 11, 10))
    assert (p8.start, p8.end) == (utc(2026, 10, 10, 4), utc(2026, 11, 10, 5))
    assert p8.end - p8.start == timedelta(days=31, hours=1)
    for p in periods:
        assert local_date(p.start, NEW_YORK) == p.start_date
        assert p.start.astimezone(NEW_YORK).time().isoformat() == "00:00:00"


def test_anchor_on_the_dst_change_day() -> None:
    s = schedule("{plan: basic, starts_on: 2026-03-08}", tz="America/New_York")
    p0, p1 = first(s, 2)
    assert p0.start == utc(2026, 3, 8, 5)  # 00:00 EST: the switch is at 02:00
    assert p1.start == utc(2026, 4, 8, 4)  # 00:00 EDT
    assert p0.days == 31


def test_periods_east_of_utc_start_the_day_before_in_utc() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-01}", tz="Asia/Tokyo")
    p0 = first(s, 1)[0]
    assert (p0.start, p0.end) == (utc(2025, 12, 31, 15), utc(2026, 1, 31, 15))
    assert s.period_at(utc(2025, 12, 31, 15)) == p0
    assert s.period_at(utc(2025, 12, 31, 14, 59, 59)) is None


def test_period_contains_is_half_open() -> None:
    p0 = first(schedule("{plan: basic, starts_on: 2026-01-15}"), 1)[0]
    assert p0.contains(utc(2026, 1, 15))
    assert p0.contains(utc(2026, 2, 14, 23, 59, 59, 999999))
    assert not p0.contains(utc(2026, 2, 15))
    assert not p0.contains(utc(2026, 1, 14, 23, 59, 59))


# -- month-end anchors -----------------------------------------------------------------------------


def test_month_end_anchor_bills_to_the_last_day_and_returns() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-31}")
    periods = first(s, 6)
    assert starts(periods) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),  # back to the 31st, not stuck on the 28th
        date(2026, 4, 30),
        date(2026, 5, 31),
        date(2026, 6, 30),
    ]
    assert [p.days for p in periods] == [28, 31, 30, 31, 30, 31]


def test_month_end_anchor_in_a_leap_year() -> None:
    s = schedule("{plan: basic, starts_on: 2028-01-31}")
    assert starts(first(s, 3)) == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]
    assert [p.days for p in first(s, 2)] == [29, 31]


def test_the_30th_anchor_in_february() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-30}")
    assert starts(first(s, 4)) == [date(2026, 1, 30), date(2026, 2, 28), date(2026, 3, 30), date(2026, 4, 30)]


def test_leap_day_anchor_yearly() -> None:
    s = schedule("{plan: yearly, starts_on: 2028-02-29}")
    assert starts(first(s, 5)) == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]


# -- quarterly and yearly --------------------------------------------------------------------------


def test_quarterly_periods_from_a_month_end() -> None:
    s = schedule("{plan: quarterly, starts_on: 2026-01-31}")
    periods = first(s, 5)
    assert starts(periods) == [
        date(2026, 1, 31),
        date(2026, 4, 30),
        date(2026, 7, 31),
        date(2026, 10, 31),
        date(2027, 1, 31),
    ]
    # Jan 31 - Apr 30: 28 + 31 + 30 = 89 days; Apr 30 - Jul 31: 1 + 31 + 30 + 30 = 92
    assert [p.days for p in periods[:2]] == [89, 92]


def test_yearly_periods() -> None:
    s = schedule("{plan: yearly, starts_on: 2026-03-01}", tz="America/New_York")
    periods = first(s, 3)
    assert starts(periods) == [date(2026, 3, 1), date(2027, 3, 1), date(2028, 3, 1)]
    assert [p.days for p in periods] == [365, 366, 365]  # 2028 is a leap year
    assert periods[1].start == utc(2027, 3, 1, 5)


# -- trials ----------------------------------------------------------------------------------------


def test_trial_shifts_the_anchor_and_is_its_own_stretch() -> None:
    s = schedule("{plan: trial, starts_on: 2026-01-15}", tz="America/New_York")
    # 14 trial days: January 15 .. 28; billing starts January 29
    assert s.anchor == date(2026, 1, 29)
    assert s.trial == Period(
        -1, date(2026, 1, 15), date(2026, 1, 29), utc(2026, 1, 15, 5), utc(2026, 1, 29, 5)
    )
    assert s.trial is not None and s.trial.days == 14
    p0, p1 = first(s, 2)
    assert (p0.start_date, p0.end_date, p1.end_date) == (
        date(2026, 1, 29),
        date(2026, 2, 28),
        date(2026, 3, 29),
    )
    assert p0.start == s.trial.end
    # the trial is not a billing period: nothing before the anchor is billed
    assert s.period(-1) is None
    assert s.period_at(utc(2026, 1, 20)) is None
    assert s.period_at(utc(2026, 1, 29, 4, 59)) is None
    assert s.period_at(utc(2026, 1, 29, 5)) == p0
    (segment,) = s.segments(p0)
    assert segment.start_date == date(2026, 1, 29)
    assert segment.coverage == Coverage(30, 30)
    assert s.terms[0].bills_from == date(2026, 1, 29)
    assert not s.terms[0].covers(date(2026, 1, 28))
    assert s.terms[0].covers(date(2026, 1, 29))


def test_trial_applies_to_the_first_contract_only() -> None:
    # a plan change into a plan with a trial does not start a new trial, nor move the anchor
    s = schedule(
        "{plan: basic, starts_on: 2026-01-01, ends_on: 2026-01-31}",
        "{plan: trial, starts_on: 2026-02-01}",
    )
    assert s.trial is None
    assert s.anchor == date(2026, 1, 1)
    assert s.terms[1].bills_from == date(2026, 2, 1)
    (segment,) = s.segments(first(s, 2)[1])
    assert segment.term.contract.plan == "trial"
    assert segment.coverage == Coverage(28, 28)


# -- terms and ends --------------------------------------------------------------------------------


def test_term_without_auto_renew_ends_after_the_term() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-15, term_months: 3}")
    (term,) = s.terms
    # 2026-01-15 + 3 months - 1 day = 2026-04-14, the last day billed
    assert term.contract.last_day == date(2026, 4, 14)
    assert term.bills_until == date(2026, 4, 15)
    assert s.bills_until == date(2026, 4, 15)
    periods = first(s, 5)
    assert [len(s.segments(p)) for p in periods] == [1, 1, 1, 0, 0]
    assert s.segments(periods[2])[0].coverage == Coverage(31, 31)  # March 15 - April 15, all of it
    # periods go on after the end: their boundaries close the last period and carry late usage
    assert periods[3].start_date == date(2026, 4, 15)


def test_term_from_a_month_end() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-31, term_months: 1}")
    # 2026-01-31 + 1 month = 2026-02-28 (the period's end), - 1 day
    assert s.terms[0].contract.last_day == date(2026, 2, 27)
    p0, p1 = first(s, 2)
    assert s.segments(p0)[0].coverage == Coverage(28, 28)
    assert s.segments(p1) == ()


def test_term_counts_from_starts_on_including_the_trial() -> None:
    # SPEC: the term ends on starts_on + term - 1 day, trial included; the last period is partial
    s = schedule("{plan: trial, starts_on: 2026-01-15, term_months: 1}")
    assert s.bills_until == date(2026, 2, 15)
    (segment,) = s.segments(first(s, 1)[0])  # January 29 - February 28
    assert (segment.start_date, segment.end_date) == (date(2026, 1, 29), date(2026, 2, 15))
    assert segment.coverage == Coverage(17, 30)


def test_auto_renewing_term_has_no_end() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-15, term_months: 3, auto_renew: true}")
    assert s.terms[0].bills_until is None
    assert s.bills_until is None
    assert all(len(s.segments(p)) == 1 for p in first(s, 24))


def test_ends_on_is_the_last_day_billed() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-15, ends_on: 2026-03-20}", tz="America/New_York")
    p2 = first(s, 3)[2]  # March 15 - April 15, 31 days
    (segment,) = s.segments(p2)
    # March 15 .. 20 inclusive: 6 days
    assert (segment.start_date, segment.end_date) == (date(2026, 3, 15), date(2026, 3, 21))
    assert segment.coverage == Coverage(6, 31)
    assert (segment.start, segment.end) == (utc(2026, 3, 15, 4), utc(2026, 3, 21, 4))
    assert s.segments(first(s, 4)[3]) == ()


def test_customer_without_contracts() -> None:
    s = schedule()
    assert s.anchor is None
    assert s.trial is None
    assert s.bills_until is None
    assert list(s.periods()) == []
    assert s.period(0) is None
    assert s.period_at(utc(2026, 1, 1)) is None
    assert list(s.periods_until(utc(2030, 1, 1))) == []


# -- plan changes ----------------------------------------------------------------------------------


def test_plan_change_splits_a_period_into_two_segments() -> None:
    s = schedule(
        "{plan: basic, starts_on: 2026-01-01, ends_on: 2026-02-09}",
        "{plan: pro, starts_on: 2026-02-10}",
    )
    p0, p1, p2 = first(s, 3)
    assert s.anchor == date(2026, 1, 1)
    assert (p1.start_date, p1.end_date, p1.days) == (date(2026, 2, 1), date(2026, 3, 1), 28)
    old, new = s.segments(p1)
    assert old.term.contract.plan == "basic" and new.term.contract.plan == "pro"
    # February 1 .. 9 on basic (9 days), February 10 .. 28 on pro (19 days)
    assert (old.start_date, old.end_date) == (date(2026, 2, 1), date(2026, 2, 10))
    assert (new.start_date, new.end_date) == (date(2026, 2, 10), date(2026, 3, 1))
    assert old.coverage == Coverage(9, 28)
    assert new.coverage == Coverage(19, 28)
    assert old.coverage.days + new.coverage.days == p1.days
    assert not old.coverage.is_full and not new.coverage.is_full
    assert (old.start, old.end, new.start, new.end) == (p1.start, utc(2026, 2, 10), utc(2026, 2, 10), p1.end)
    assert old.period == p1 and new.period == p1
    # the second contract keeps the anchor: the periods on each side are whole
    (only_old,) = s.segments(p0)
    (only_new,) = s.segments(p2)
    assert only_old.term.index == 0 and only_old.coverage.is_full
    assert only_new.term.index == 1 and only_new.coverage.is_full
    assert p2.start_date == date(2026, 3, 1)
    # each contract keeps its own charges and a stable key
    assert [t.key for t in s.terms] == ["2026-01-01", "2026-02-10"]
    assert len(new.term.charges) == 2 and len(old.term.charges) == 1
    assert new.customer_id == "c1"


def test_plan_change_in_a_dst_month_in_new_york() -> None:
    s = schedule(
        "{plan: basic, starts_on: 2026-01-01, ends_on: 2026-03-14}",
        "{plan: pro, starts_on: 2026-03-15}",
        tz="America/New_York",
    )
    p2 = first(s, 3)[2]  # March 2026, 31 days, DST from March 8
    old, new = s.segments(p2)
    assert (old.coverage, new.coverage) == (Coverage(14, 31), Coverage(17, 31))
    assert old.coverage.days + new.coverage.days == p2.days
    assert old.start == utc(2026, 3, 1, 5)  # EST
    assert old.end == new.start == utc(2026, 3, 15, 4)  # EDT
    assert new.end == utc(2026, 4, 1, 4)


def test_plan_change_on_a_period_boundary_does_not_split() -> None:
    s = schedule(
        "{plan: basic, starts_on: 2026-01-01, ends_on: 2026-01-31}",
        "{plan: pro, starts_on: 2026-02-01}",
    )
    p0, p1 = first(s, 2)
    assert [seg.term.index for seg in s.segments(p0)] == [0]
    assert [seg.term.index for seg in s.segments(p1)] == [1]
    assert s.segments(p0)[0].coverage.is_full and s.segments(p1)[0].coverage.is_full


def test_a_gap_between_contracts_is_not_billed() -> None:
    s = schedule(
        "{plan: basic, starts_on: 2026-01-01, ends_on: 2026-01-10}",
        "{plan: pro, starts_on: 2026-01-21}",
    )
    old, new = s.segments(first(s, 1)[0])
    assert (old.coverage, new.coverage) == (Coverage(10, 31), Coverage(11, 31))


# -- finding periods -------------------------------------------------------------------------------


def test_period_at_and_period() -> None:
    s = schedule("{plan: basic, starts_on: 2026-02-10}", tz="America/New_York")
    p0, p1, p2 = first(s, 3)
    assert s.period(0) == p0 and s.period(2) == p2
    assert s.period(-1) is None
    assert s.period_at(utc(2026, 2, 10, 5)) == p0  # the first instant
    assert s.period_at(utc(2026, 2, 10, 4, 59, 59)) is None  # before the anchor
    assert s.period_at(utc(2026, 3, 10, 3, 59, 59)) == p0  # 23:59:59 EDT on March 9
    assert s.period_at(utc(2026, 3, 10, 4)) == p1  # local midnight on March 10
    assert s.period_at(utc(2026, 4, 20)) == p2
    assert s.period_at(utc(2031, 1, 1)) is not None  # periods never run out
    assert s.period(100) is not None and s.period(100).index == 100  # type: ignore[union-attr]


def test_periods_until() -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-15}")
    assert list(s.periods_until(utc(2026, 1, 14))) == []
    assert [p.index for p in s.periods_until(utc(2026, 1, 15))] == [0]  # starts at the instant
    assert [p.index for p in s.periods_until(utc(2026, 3, 14, 23))] == [0, 1]
    assert [p.index for p in s.periods_until(utc(2026, 3, 15))] == [0, 1, 2]
    assert list(s.periods_until(utc(2026, 3, 15))) == first(s, 3)


@pytest.mark.parametrize("tz", ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"])
def test_every_instant_belongs_to_exactly_one_period(tz: str) -> None:
    s = schedule("{plan: basic, starts_on: 2026-01-31}", tz=tz)
    periods = first(s, 14)
    instant = periods[0].start
    while instant < periods[-1].end:
        holding = [p for p in periods if p.contains(instant)]
        assert len(holding) == 1
        assert s.period_at(instant) == holding[0]
        instant += timedelta(hours=37)
