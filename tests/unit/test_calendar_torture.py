"""The calendar torture suite: periods in six zones across their clock changes, month-end and
leap-day anchors, year ends, and instants on a boundary.

Every expectation is worked by hand from the zones' 2026 rules, written next to it:
- America/New_York: EST -05:00, EDT -04:00 from Sun 8 Mar 02:00 to Sun 1 Nov 02:00;
- America/Juneau: AKST -09:00, AKDT -08:00 on the same days;
- Europe/Paris: CET +01:00, CEST +02:00 from Sun 29 Mar 02:00 to Sun 25 Oct 03:00;
- Australia/Lord_Howe: +11:00 until Sun 5 Apr 02:00 (back to 01:30), +10:30 until Sun 4 Oct
  02:00 (on to 02:30): a 30-minute change, in the southern summer;
- Asia/Kolkata: +05:30 all year, local midnight is 18:30 UTC the day before; UTC.
Periods are anniversary periods at local midnight, half-open; proration counts local days,
never hours, so a 743-hour March is 31 days.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.local_days import local_days
from billing.core.periods import Period, Schedule
from billing.core.pricing.base import Coverage

ZONES = ["America/New_York", "Europe/Paris", "Australia/Lord_Howe", "Asia/Kolkata", "America/Juneau", "UTC"]
INTERVALS = {"monthly": 1, "quarterly": 3, "yearly": 12}
HOUR = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def schedule(tz: str, *contracts: dict[str, object], trial_days: int = 0) -> Schedule:
    """A customer in `tz` whose contracts are on plans `monthly`, `quarterly` and `yearly`."""
    plans = [
        {
            "code": code,
            "interval": code,
            "trial_days": trial_days,
            "charges": [{"model": "flat", "amount": "31.00"}],
        }
        for code in INTERVALS
    ]
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": plans,
            "customers": [
                {"id": "c", "email": "c@example.com", "timezone": tz, "contracts": list(contracts)}
            ],
        },
        "torture",
    )
    return Schedule(catalog, catalog.customer("c"))


def monthly(tz: str, starts_on: str) -> Schedule:
    return schedule(tz, {"plan": "monthly", "starts_on": starts_on})


def first(s: Schedule, count: int) -> list[Period]:
    return list(islice(s.periods(), count))


def period_of(s: Schedule, first_day: date) -> Period:
    for period in s.periods():
        if period.start_date == first_day:
            return period
        assert period.start_date < first_day, f"no period starts on {first_day}"
    raise AssertionError("unreachable")


# -- monthly periods across each zone's clock changes ----------------------------------------------

# zone, first day, start (UTC), end (UTC), the offsets at both ends, length in hours, text
DST_MONTHS = [
    # New York springs forward on Mar 8: March is 31 days of 743 hours
    ("America/New_York", date(2026, 3, 1), utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), "-05:00", "-04:00", 743),
    # ... and falls back on Nov 1: November is 30 days of 721 hours, October an ordinary 744
    (
        "America/New_York",
        date(2026, 10, 1),
        utc(2026, 10, 1, 4),
        utc(2026, 11, 1, 4),
        "-04:00",
        "-04:00",
        744,
    ),
    (
        "America/New_York",
        date(2026, 11, 1),
        utc(2026, 11, 1, 4),
        utc(2026, 12, 1, 5),
        "-04:00",
        "-05:00",
        721,
    ),
    ("America/Juneau", date(2026, 3, 1), utc(2026, 3, 1, 9), utc(2026, 4, 1, 8), "-09:00", "-08:00", 743),
    ("America/Juneau", date(2026, 11, 1), utc(2026, 11, 1, 8), utc(2026, 12, 1, 9), "-08:00", "-09:00", 721),
    # Paris: March loses an hour, October gains one
    ("Europe/Paris", date(2026, 3, 1), utc(2026, 2, 28, 23), utc(2026, 3, 31, 22), "+01:00", "+02:00", 743),
    ("Europe/Paris", date(2026, 10, 1), utc(2026, 9, 30, 22), utc(2026, 10, 31, 23), "+02:00", "+01:00", 745),
    # Lord Howe: April gains half an hour (720.5 h), October loses half an hour (743.5 h)
    (
        "Australia/Lord_Howe",
        date(2026, 4, 1),
        utc(2026, 3, 31, 13),
        utc(2026, 4, 30, 13, 30),
        "+11:00",
        "+10:30",
        720.5,
    ),
    (
        "Australia/Lord_Howe",
        date(2026, 10, 1),
        utc(2026, 9, 30, 13, 30),
        utc(2026, 10, 31, 13),
        "+10:30",
        "+11:00",
        743.5,
    ),
    # Kolkata and UTC keep their offset: every month is days x 24 hours
    (
        "Asia/Kolkata",
        date(2026, 3, 1),
        utc(2026, 2, 28, 18, 30),
        utc(2026, 3, 31, 18, 30),
        "+05:30",
        "+05:30",
        744,
    ),
    (
        "Asia/Kolkata",
        date(2026, 11, 1),
        utc(2026, 10, 31, 18, 30),
        utc(2026, 11, 30, 18, 30),
        "+05:30",
        "+05:30",
        720,
    ),
    ("UTC", date(2026, 3, 1), utc(2026, 3, 1), utc(2026, 4, 1), "+00:00", "+00:00", 744),
    ("UTC", date(2026, 11, 1), utc(2026, 11, 1), utc(2026, 12, 1), "+00:00", "+00:00", 720),
]


@pytest.mark.parametrize(("tz", "first_day", "start", "end", "opens", "closes", "hours"), DST_MONTHS)
def test_a_month_over_a_clock_change_starts_and_ends_at_local_midnight(
    tz: str, first_day: date, start: datetime, end: datetime, opens: str, closes: str, hours: float
) -> None:
    zone = ZoneInfo(tz)
    s = monthly(tz, "2026-01-01")
    period = period_of(s, first_day)
    assert (period.start, period.end) == (start, end)
    assert period.start.astimezone(zone).isoformat() == f"{first_day.isoformat()}T00:00:00{opens}"
    next_first = first_day + relativedelta(months=1)
    assert period.end.astimezone(zone).isoformat() == f"{next_first.isoformat()}T00:00:00{closes}"
    assert (period.end - period.start) / HOUR == hours  # its real length ...
    days = (next_first - first_day).days
    assert period.days == days  # ... but billing counts the days
    (segment,) = s.segments(period)
    assert segment.coverage == Coverage(days, days) and segment.coverage.is_full
    last_day = next_first - timedelta(days=1)
    text = f"{first_day.day} {first_day:%b %Y} – {last_day.day} {last_day:%b %Y}"
    assert str(local_days(period.start, period.end, zone)) == text  # "1 Mar 2026 – 31 Mar 2026"


@pytest.mark.parametrize("tz", ZONES)
def test_a_year_of_months_is_contiguous_and_half_open(tz: str) -> None:
    periods = first(monthly(tz, "2026-01-01"), 13)
    assert [p.start_date for p in periods] == [date(2026, m, 1) for m in range(1, 13)] + [date(2027, 1, 1)]
    for before, after in pairwise(periods):
        assert before.end == after.start and before.end_date == after.start_date
        assert before.contains(after.start - timedelta(microseconds=1))
        assert not before.contains(after.start) and after.contains(after.start)
    # a year of local midnights is 365 days of 24 hours exactly: the changes cancel out
    assert periods[12].start - periods[0].start == timedelta(days=365)
    assert sum(p.days for p in periods[:12]) == 365


# -- instants on a boundary ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "boundary"),
    [
        ("Asia/Kolkata", utc(2026, 3, 31, 18, 30)),  # 1 Apr 00:00 +05:30, still 31 Mar in UTC
        ("America/New_York", utc(2026, 11, 1, 4)),  # 1 Nov 00:00 EDT, two hours before the change
        ("America/Juneau", utc(2026, 3, 1, 9)),  # 1 Mar 00:00 AKST
        ("Australia/Lord_Howe", utc(2026, 9, 30, 13, 30)),  # 1 Oct 00:00 +10:30
        ("Europe/Paris", utc(2026, 10, 31, 23)),  # 1 Nov 00:00 CET
        ("UTC", utc(2026, 7, 1)),
    ],
)
def test_an_event_at_the_boundary_belongs_to_the_next_period(tz: str, boundary: datetime) -> None:
    s = monthly(tz, "2026-01-01")
    at = s.period_at(boundary)
    before = s.period_at(boundary - timedelta(microseconds=1))
    assert at is not None and before is not None
    assert at.start == boundary and before.end == boundary
    assert at.index == before.index + 1
    assert boundary.astimezone(ZoneInfo(tz)).time().isoformat() == "00:00:00"
    # the segments, which usage is metered by, split at the same instant
    (segment,) = s.segments(at)
    assert segment.start == boundary


def test_kolkata_local_midnight_is_the_day_before_in_utc() -> None:
    s = monthly("Asia/Kolkata", "2026-03-01")
    march, april = first(s, 2)
    assert march.start == utc(2026, 2, 28, 18, 30)
    assert s.period_at(utc(2026, 2, 28, 18, 29, 59, 999999)) is None  # 23:59:59.999999 on Feb 28
    assert s.period_at(utc(2026, 3, 31, 18, 29, 59, 999999)) == march  # the last instant of March
    assert s.period_at(utc(2026, 3, 31, 18, 30)) == april  # 31 Mar in UTC, 1 Apr in Kolkata


# -- anchors ---------------------------------------------------------------------------------------


def test_a_jan_31_anchor_clamps_to_each_month_end_and_returns() -> None:
    s = monthly("America/New_York", "2027-01-31")
    periods = first(s, 15)
    assert [p.start_date for p in periods] == [
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),  # back to the 31st, not stuck on the 28th
        date(2027, 4, 30),
        date(2027, 5, 31),
        date(2027, 6, 30),
        date(2027, 7, 31),
        date(2027, 8, 31),
        date(2027, 9, 30),
        date(2027, 10, 31),
        date(2027, 11, 30),
        date(2027, 12, 31),
        date(2028, 1, 31),
        date(2028, 2, 29),  # 2028 is a leap year
        date(2028, 3, 31),
    ]
    # Jan 31 - Feb 28 is 28 days, Feb 28 - Mar 31 is 31, ..., Jan 31 2028 - Feb 29 is 29
    assert [p.days for p in periods[:4]] == [28, 31, 30, 31]
    assert periods[12].days == 29 and periods[13].days == 31
    # New York springs forward on Mar 14, 2027: Feb 28 - Mar 31 is 31 days of 743 hours
    assert (periods[1].start, periods[1].end) == (utc(2027, 2, 28, 5), utc(2027, 3, 31, 4))


def test_a_leap_day_anchor_yearly_clamps_to_feb_28_and_returns_in_the_next_leap_year() -> None:
    s = schedule("Asia/Kolkata", {"plan": "yearly", "starts_on": "2028-02-29"})
    periods = first(s, 5)
    assert [p.start_date for p in periods] == [
        date(2028, 2, 29),
        date(2029, 2, 28),
        date(2030, 2, 28),
        date(2031, 2, 28),
        date(2032, 2, 29),
    ]
    assert [p.days for p in periods[:4]] == [365, 365, 365, 366]
    assert periods[0].start == utc(2028, 2, 28, 18, 30)  # 29 Feb 00:00 +05:30


def test_quarterly_from_nov_30_across_the_year_end() -> None:
    s = schedule("Europe/Paris", {"plan": "quarterly", "starts_on": "2026-11-30"})
    periods = first(s, 6)
    assert [p.start_date for p in periods] == [
        date(2026, 11, 30),
        date(2027, 2, 28),
        date(2027, 5, 30),
        date(2027, 8, 30),
        date(2027, 11, 30),
        date(2028, 2, 29),
    ]
    # Nov 30 - Feb 28: 31 + 31 + 28 = 90; Feb 28 - May 30: 28 + 31 + 30 + 2 = 91;
    # May 30 - Aug 30: 31 + 30 + 31 = 92; Aug 30 - Nov 30: 31 + 30 + 31 = 92; then 31 + 31 + 29
    assert [p.days for p in periods[:5]] == [90, 91, 92, 92, 91]
    # winter to summer time in the second quarter: it starts at +01:00 and ends at +02:00
    assert (periods[1].start, periods[1].end) == (utc(2027, 2, 27, 23), utc(2027, 5, 29, 22))
    assert str(local_days(periods[0].start, periods[0].end, ZoneInfo("Europe/Paris"))) == (
        "30 Nov 2026 – 27 Feb 2027"
    )


def test_dec_31_anchors_across_the_year_end() -> None:
    s = monthly("Asia/Kolkata", "2026-12-31")
    periods = first(s, 4)
    assert [p.start_date for p in periods] == [
        date(2026, 12, 31),
        date(2027, 1, 31),
        date(2027, 2, 28),
        date(2027, 3, 31),
    ]
    assert [p.days for p in periods[:3]] == [31, 28, 31]
    assert periods[0].start == utc(2026, 12, 30, 18, 30)  # 31 Dec 00:00 +05:30
    yearly = first(schedule("America/New_York", {"plan": "yearly", "starts_on": "2026-12-31"}), 3)
    assert [p.start_date for p in yearly] == [date(2026, 12, 31), date(2027, 12, 31), date(2028, 12, 31)]
    assert [p.days for p in yearly[:2]] == [365, 366]
    assert yearly[1].start == utc(2027, 12, 31, 5)  # midnight EST
    assert str(local_days(yearly[0].start, yearly[0].end, ZoneInfo("America/New_York"))) == (
        "31 Dec 2026 – 30 Dec 2027"
    )


# -- trials ending on a clock-change day -----------------------------------------------------------


def test_a_trial_ending_on_the_new_york_spring_forward_day() -> None:
    # 14 days from Feb 22: the trial is Feb 22 - Mar 7, billing starts Sun Mar 8 at 00:00 EST
    s = schedule("America/New_York", {"plan": "monthly", "starts_on": "2026-02-22"}, trial_days=14)
    assert s.trial is not None
    assert (s.trial.start_date, s.trial.end_date, s.trial.days) == (date(2026, 2, 22), date(2026, 3, 8), 14)
    assert s.anchor == date(2026, 3, 8)
    p0, p1 = first(s, 2)
    assert s.trial.end == p0.start == utc(2026, 3, 8, 5)  # the change is at 02:00, after midnight
    assert p0.end == p1.start == utc(2026, 4, 8, 4)  # 00:00 EDT
    assert (p0.days, (p0.end - p0.start) / HOUR) == (31, 743)
    assert s.period_at(utc(2026, 3, 8, 4, 59, 59, 999999)) is None  # the trial's last instant


def test_a_trial_ending_on_the_lord_howe_spring_forward_day() -> None:
    # 30 days from Sep 4: billing starts Sun Oct 4 at 00:00 +10:30, the clock jumps at 02:00
    s = schedule("Australia/Lord_Howe", {"plan": "monthly", "starts_on": "2026-09-04"}, trial_days=30)
    assert s.anchor == date(2026, 10, 4)
    p0 = first(s, 1)[0]
    assert p0.start == utc(2026, 10, 3, 13, 30)
    assert p0.end == utc(2026, 11, 3, 13)  # 4 Nov 00:00 +11:00
    assert (p0.days, (p0.end - p0.start) / HOUR) == (31, 743.5)


def test_a_juneau_trial_ending_on_the_fall_back_day() -> None:
    # 10 days from Oct 22: billing starts Sun Nov 1 at 00:00 AKDT (08:00 UTC)
    s = schedule("America/Juneau", {"plan": "monthly", "starts_on": "2026-10-22"}, trial_days=10)
    assert s.trial is not None and s.trial.end == utc(2026, 11, 1, 8)
    p0 = first(s, 1)[0]
    assert (p0.start_date, p0.end_date) == (date(2026, 11, 1), date(2026, 12, 1))
    assert (p0.end - p0.start) / HOUR == 721  # 30 days and the hour given back


# -- the property ----------------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    anchor=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    interval=st.sampled_from(sorted(INTERVALS)),
)
def test_periods_are_contiguous_anniversaries_at_local_midnight(tz: str, anchor: date, interval: str) -> None:
    zone = ZoneInfo(tz)
    s = schedule(tz, {"plan": interval, "starts_on": anchor.isoformat()})
    periods = first(s, 14)
    step = INTERVALS[interval]
    for n, period in enumerate(periods):
        # dateutil clamps a month-end anniversary to a shorter month's last day, from the anchor
        expected = anchor + relativedelta(months=n * step)
        assert period.start_date == expected
        local_start = period.start.astimezone(zone)
        assert (local_start.date(), local_start.time().isoformat()) == (expected, "00:00:00")
        assert (period.start - timedelta(microseconds=1)).astimezone(zone).date() == expected - timedelta(
            days=1
        )
        assert period.days == (period.end_date - period.start_date).days
        assert period.end_date == anchor + relativedelta(months=(n + 1) * step)
        # the hours differ from days x 24 by at most the one clock change a zone makes at a time
        drift = abs((period.end - period.start) - timedelta(days=period.days))
        assert drift <= HOUR
    for before, after in pairwise(periods):
        assert before.end == after.start and before.end_date == after.start_date
