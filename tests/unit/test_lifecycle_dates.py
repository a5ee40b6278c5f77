"""The date-based lifecycle kinds: each on its customer's exact local day, and a scan that
missed days catching up (sent late inside the window, skipped after it) without losing a key."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.catalog import Catalog, parse_catalog
from billing.core.lifecycle_catch_up import (
    LATE_ANNOUNCEMENT,
    LATE_REMINDER,
    Decision,
    catch_up,
    due_reminders,
)
from billing.core.lifecycle_dates import Track, date_tracks
from billing.core.local_days import day_before
from billing.core.periods import Schedule, local_midnight
from billing.notify.rendering import render_email

ZONES = ("UTC", "Asia/Kolkata", "America/Los_Angeles")
MINUTE = timedelta(minutes=1)


def catalog_of(customers: list[dict[str, Any]], **plan: Any) -> Catalog:
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "pro",
                    "name": "Pro",
                    "interval": "monthly",
                    "charges": [{"model": "flat", "amount": "30.00"}],
                    **plan,
                },
                {"code": "trial", "name": "Trial", "interval": "monthly", "trial_days": 14, **_flat()},
            ],
            "customers": customers,
        },
        "test",
    )


def _flat() -> dict[str, Any]:
    return {"charges": [{"model": "flat", "amount": "30.00"}], "minimum_commitment": "100.00"}


def customer(cid: str, tz: str, *contracts: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "email": f"{cid}@example.com", "timezone": tz, "contracts": list(contracts)}


def every_kind(tz: str) -> Catalog:
    """One customer per kind, in zone `tz`:
    - trial: 14 days from Mar 1 -> ends Mar 15 (trial_ending from Mar 12, trial_ended Mar 15);
    - renews: 3-month terms from Jan 15 -> renews Apr 15 (reminders from Mar 16 and Apr 8);
    - ends: a 6-month term from Jan 1 without renewal -> last day Jun 30 (reminder from Jun 1)."""
    return catalog_of(
        [
            customer("trial", tz, {"plan": "trial", "starts_on": "2026-03-01"}),
            customer(
                "renews", tz, {"plan": "pro", "starts_on": "2026-01-15", "auto_renew": True, "term_months": 3}
            ),
            customer("ends", tz, {"plan": "pro", "starts_on": "2026-01-01", "term_months": 6}),
        ]
    )


class Calendar:
    """The lifecycle calendar without a database: each track's next occurrence, stepped on by
    scans exactly as `billing/store/lifecycle_calendar.py` does."""

    def __init__(self, catalog: Catalog) -> None:
        self.rows: list[tuple[Track, int]] = []
        for c in catalog.customers:
            for track in date_tracks(catalog, Schedule(catalog, c)):
                first = track.first_open(None)
                if first is not None:
                    self.rows.append((track, first.index))

    def scan(self, as_of: datetime) -> list[Decision]:
        decisions: list[Decision] = []
        kept: list[tuple[Track, int]] = []
        for track, index in self.rows:
            tz = ZoneInfo(track.timezone)
            occurrence = track.occurrence(index)
            assert occurrence is not None
            if local_midnight(occurrence.opens_on, tz) >= as_of:  # the calendar's `fires_at < as_of`
                kept.append((track, index))
                continue
            caught_up = catch_up(track, index, day_before(as_of, tz))
            decisions += caught_up.decisions
            if caught_up.next is not None:
                kept.append((track, caught_up.next.index))
        self.rows = kept
        return decisions


def just_after_midnight(day: date, tz: str) -> datetime:
    return local_midnight(day, ZoneInfo(tz)) + MINUTE


KINDS_AND_DAYS = [
    ("trial", "trial_ending", date(2026, 3, 12), "2026-03-15/3d"),
    ("trial", "trial_ended", date(2026, 3, 15), "2026-03-15"),
    ("renews", "renewal_upcoming", date(2026, 3, 16), "2026-04-15/30d"),
    ("renews", "renewal_upcoming", date(2026, 4, 8), "2026-04-15/7d"),
    ("renews", "renewed", date(2026, 4, 15), "2026-04-15"),
    ("ends", "contract_ending", date(2026, 6, 1), "2026-06-30/30d"),
]


@pytest.mark.parametrize("tz", ZONES)
@pytest.mark.parametrize(("cid", "kind", "day", "period"), KINDS_AND_DAYS)
def test_each_kind_on_its_exact_local_day_not_the_day_before_nor_after(tz, cid, kind, day, period):
    calendar = Calendar(every_kind(tz))
    calendar.scan(just_after_midnight(day - timedelta(days=1), tz))  # everything before, decided

    def found(at: datetime) -> list[tuple[str, str, date | None]]:
        return [
            (d.reminder.kind, d.reminder.period, d.reminder.on)
            for d in calendar.scan(at)
            if d.reminder.customer_id == cid and d.reminder.kind == kind and not d.skipped
        ]

    assert found(local_midnight(day, ZoneInfo(tz))) == []  # the end of the day before, to the instant
    assert found(just_after_midnight(day, tz)) == [(kind, period, day)]
    assert found(just_after_midnight(day + timedelta(days=1), tz)) == []  # decided once


def test_an_instant_is_each_customers_own_day():
    # 20:00 UTC on Mar 15 is 01:30 on Mar 16 in Kolkata: its renewal reminder (30 days before
    # Apr 15) is due there, not yet in UTC (Mar 15) nor in Los Angeles (13:00 on Mar 15)
    at = datetime(2026, 3, 15, 20, tzinfo=UTC)
    due = {
        tz: [r.customer_id for r in due_reminders(every_kind(tz), at) if r.kind != "trial_ended"]
        for tz in ZONES
    }
    assert due == {"UTC": [], "Asia/Kolkata": ["renews"], "America/Los_Angeles": []}
    (kolkata,) = [r for r in due_reminders(every_kind("Asia/Kolkata"), at) if r.customer_id == "renews"]
    assert (kolkata.on, kolkata.context["days_left"]) == (date(2026, 3, 16), 30)


def test_contexts_carry_the_shared_fields_and_the_kinds_own():
    calendar = Calendar(every_kind("UTC"))
    contexts = {
        (d.reminder.kind, d.reminder.period): d.reminder.context
        for d in calendar.scan(datetime(2026, 7, 2, tzinfo=UTC))
    }
    shared = {"customer_name", "customer_id", "currency", "plan_name", "minimum_commitment"}
    assert all(shared <= set(c) for c in contexts.values())
    trial = contexts[("trial_ending", "2026-03-15/3d")]
    expected = {"trial_ends_on": "2026-03-15", "recurring_fee": "30.00", "minimum_commitment": "100.00"}
    assert {k: trial[k] for k in expected} == expected and trial["currency"] == "USD"
    assert contexts[("trial_ended", "2026-03-15")]["trial_ended_on"] == "2026-03-15"
    upcoming = contexts[("renewal_upcoming", "2026-04-15/7d")]
    assert (upcoming["renews_on"], upcoming["term_months"], upcoming["recurring_fee"]) == (
        "2026-04-15",
        3,
        "30.00",
    )
    renewed = contexts[("renewed", "2026-04-15")]
    assert (renewed["renewed_on"], renewed["term_ends_on"], renewed["term_months"]) == (
        "2026-04-15",
        "2026-07-14",
        3,
    )
    ending = contexts[("contract_ending", "2026-06-30/30d")]
    assert ending["ends_on"] == "2026-06-30" and ending["minimum_commitment"] is None


def test_a_renewal_rolls_each_term_over_from_the_contract_start():
    # monthly terms from Jan 31: the 2nd term starts Feb 28 (the month's last day), the 3rd Mar 31
    catalog = catalog_of(
        [
            customer(
                "m",
                "Asia/Kolkata",
                {"plan": "pro", "starts_on": "2026-01-31", "auto_renew": True, "term_months": 1},
            )
        ]
    )
    calendar = Calendar(catalog)
    renewed = [
        (d.reminder.period, d.reminder.context["term_ends_on"], d.reminder.on)
        for day in (date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 1))
        for d in calendar.scan(just_after_midnight(day, "Asia/Kolkata"))
        if d.reminder.kind == "renewed"
    ]
    assert renewed == [
        ("2026-02-28", "2026-03-30", date(2026, 2, 28)),  # into term 2
        ("2026-03-31", "2026-04-29", date(2026, 3, 31)),  # into term 3
    ]


def test_a_renewal_stops_at_an_explicit_end_which_is_announced():
    catalog = catalog_of(
        [
            customer(
                "x",
                "UTC",
                {
                    "plan": "pro",
                    "starts_on": "2026-01-01",
                    "ends_on": "2026-08-31",
                    "auto_renew": True,
                    "term_months": 3,
                },
            )
        ]
    )
    decisions = Calendar(catalog).scan(datetime(2027, 1, 1, tzinfo=UTC))
    keys = sorted((d.reminder.kind, d.reminder.period) for d in decisions)
    assert [k for k in keys if k[0] == "renewed"] == [("renewed", "2026-04-01"), ("renewed", "2026-07-01")]
    assert ("contract_ending", "2026-08-31/30d") in keys
    # the last renewal's term is cut short by the end: its notices say until when, not 3 months
    said = {(d.reminder.kind, d.reminder.period): d.reminder.context for d in decisions}
    assert said[("renewed", "2026-04-01")]["ends_with_contract"] is False
    last = said[("renewed", "2026-07-01")]
    assert (last["term_ends_on"], last["ends_with_contract"]) == ("2026-08-31", True)
    upcoming = said[("renewal_upcoming", "2026-07-01/7d")]
    assert (upcoming["term_ends_on"], upcoming["ends_with_contract"]) == ("2026-08-31", True)
    email = render_email("renewed", last | {"customer_name": "X", "plan_name": "Pro"})
    assert email.subject == "Your Pro contract has renewed until 31 Aug 2026"
    assert "3 months" not in email.text and "3 months" not in email.html
    notice = render_email("renewal_upcoming", upcoming | {"customer_name": "X", "plan_name": "Pro"})
    assert "until 31 Aug 2026, the contract's last day" in notice.text
    assert "for another 3 months" not in notice.text and "for another 3 months" not in notice.html


def test_a_plan_change_is_not_a_contract_ending():
    catalog = catalog_of(
        [
            customer(
                "x",
                "UTC",
                {"plan": "pro", "starts_on": "2026-01-01", "ends_on": "2026-03-31"},
                {"plan": "pro", "starts_on": "2026-04-01", "term_months": 6},
            )
        ]
    )
    decisions = Calendar(catalog).scan(datetime(2027, 1, 1, tzinfo=UTC))
    assert [(d.reminder.kind, d.reminder.subject, d.reminder.period) for d in decisions] == [
        ("contract_ending", "contract/2026-04-01", "2026-09-30/30d")
    ]


def test_offsets_come_from_the_contract_then_the_plan():
    catalog = catalog_of(
        [
            customer(
                "x",
                "UTC",
                {
                    "plan": "pro",
                    "starts_on": "2026-01-01",
                    "auto_renew": True,
                    "term_months": 12,
                    "notifications": {"renewal_upcoming": [60, 1]},
                },
            ),
            customer("y", "UTC", {"plan": "pro", "starts_on": "2026-01-01", "term_months": 12}),
        ],
        notifications={"contract_ending": [14, 2]},
    )
    periods: dict[tuple[str, str], list[int]] = {}
    for c in catalog.customers:
        for t in date_tracks(catalog, Schedule(catalog, c)):
            periods.setdefault((t.customer_id, t.kind), []).append(t.offset)
    assert periods == {
        ("x", "renewal_upcoming"): [60, 1],
        ("x", "renewed"): [0],
        ("y", "contract_ending"): [14, 2],
    }


def test_a_ten_day_catch_up_sends_late_what_is_still_ahead_and_skips_what_is_past():
    calendar = Calendar(every_kind("Asia/Kolkata"))
    tz = "Asia/Kolkata"
    calendar.scan(just_after_midnight(date(2026, 3, 12), tz))  # trial_ending sent on its day
    # the worker is down from Mar 13 to Mar 22 and comes back on Mar 23: the trial ended on
    # Mar 15 (announced until Mar 22: too late), the 30-day renewal reminder (from Mar 16, for
    # Apr 15) is still ahead: sent late, 23 days before
    decisions = calendar.scan(just_after_midnight(date(2026, 3, 23), tz))
    found = {(d.reminder.kind, d.reminder.period): (d.skipped, d.reason, d.reminder.on) for d in decisions}
    assert found == {
        ("trial_ended", "2026-03-15"): (True, LATE_ANNOUNCEMENT, date(2026, 3, 23)),
        ("renewal_upcoming", "2026-04-15/30d"): (False, None, date(2026, 3, 23)),
    }
    late = next(d for d in decisions if d.reminder.kind == "renewal_upcoming")
    assert late.reminder.context["days_left"] == 23
    # down again from Apr 6 to Apr 15: the 7-day reminder (Apr 8 to Apr 14) is past, the
    # renewal itself is announced on the day the scan comes back
    calendar.scan(just_after_midnight(date(2026, 4, 5), tz))
    decisions = calendar.scan(just_after_midnight(date(2026, 4, 15), tz))
    assert {(d.reminder.kind, d.reminder.period, d.skipped, d.reason) for d in decisions} == {
        ("renewal_upcoming", "2026-04-15/7d", True, LATE_REMINDER),
        ("renewed", "2026-04-15", False, None),
    }


# -- property: a daily scan and one late scan decide the same keys --------------------------

contracts = st.fixed_dictionaries(
    {
        "starts_on": st.dates(date(2026, 1, 1), date(2026, 6, 30)),
        "trial": st.booleans(),
        "term_months": st.none() | st.integers(1, 4),
        "auto_renew": st.booleans(),
        "ends_after": st.none() | st.integers(20, 300),
        "renewal_offsets": st.lists(st.integers(1, 40), min_size=1, max_size=3, unique=True),
        "ending_offsets": st.lists(st.integers(1, 40), min_size=1, max_size=2, unique=True),
        "tz": st.sampled_from(ZONES),
    }
)


def generated(spec: dict[str, Any]) -> Catalog:
    contract: dict[str, Any] = {
        "plan": "trial" if spec["trial"] else "pro",
        "starts_on": spec["starts_on"].isoformat(),
        "auto_renew": spec["auto_renew"],
        "term_months": spec["term_months"],
        "notifications": {
            "renewal_upcoming": spec["renewal_offsets"],
            "contract_ending": spec["ending_offsets"],
        },
    }
    if spec["ends_after"] is not None:
        contract["ends_on"] = (spec["starts_on"] + timedelta(days=spec["ends_after"])).isoformat()
    return catalog_of([customer("c", spec["tz"], contract)])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=contracts, first=st.dates(date(2025, 12, 1), date(2026, 9, 30)), days=st.integers(1, 200))
def test_daily_scans_decide_each_key_once_and_a_late_scan_loses_none(spec, first, days):
    catalog = generated(spec)
    daily, late = Calendar(catalog), Calendar(catalog)
    start = datetime.combine(first, datetime.min.time(), UTC)
    before = daily.scan(start)
    assert {d.reminder.key for d in before} == {d.reminder.key for d in late.scan(start)}
    decided: list[Decision] = []
    for n in range(1, days + 1):
        decided += daily.scan(start + timedelta(days=n))
    keys = [d.reminder.key for d in decided]
    assert len(keys) == len(set(keys))  # each key decided once
    assert not any(d.skipped for d in decided)  # a daily scan is never too late
    caught_up = late.scan(start + timedelta(days=days))
    assert {d.reminder.key for d in caught_up} == set(keys)  # nothing lost
    assert daily.rows == late.rows  # and both calendars stand at the same place
