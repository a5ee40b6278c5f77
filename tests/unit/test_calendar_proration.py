"""Proration and plan changes on clock-change days: days are counted, never hours.

Each contract's part of a split period is rated alone and its `prorate: true` flat charges and
minimum are `amount x days / days-in-period`, computed exactly and rounded once, half-up;
`prorate: false` charges are billed in full. Every amount is worked by hand beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.core.catalog import Catalog, parse_catalog
from billing.core.invoice_plan import BillingState
from billing.core.invoicing import InvoiceDraft, draft_invoice, usage_segments
from billing.core.lifecycle_catch_up import due_reminders
from billing.core.periods import Period, Schedule, Segment
from billing.core.pricing.base import Coverage, MeteredUsage

D = Decimal
HOUR = timedelta(hours=1)
GRADUATED: dict[str, object] = {
    "metric": "calls",
    "model": "graduated",
    "tiers": [{"up_to": 10, "unit_price": "1.00"}, {"up_to": None, "unit_price": "0.50"}],
}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def plan(
    code: str, *charges: dict[str, object], minimum: str | None = None, trial_days: int = 0
) -> dict[str, object]:
    found: dict[str, object] = {"code": code, "interval": "monthly", "charges": list(charges)}
    if minimum is not None:
        found["minimum_commitment"] = minimum
    if trial_days:
        found["trial_days"] = trial_days
    return found


def flat(amount: str, **extra: object) -> dict[str, object]:
    return {"model": "flat", "amount": amount, **extra}


def customer(
    tz: str, plans: list[dict[str, object]], *contracts: dict[str, object]
) -> tuple[Catalog, Schedule]:
    catalog = parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": plans,
            "customers": [
                {"id": "c", "email": "c@example.com", "timezone": tz, "contracts": list(contracts)}
            ],
        },
        "proration",
    )
    return catalog, Schedule(catalog, catalog.customer("c"))


def invoices(
    catalog: Catalog, s: Schedule, until: int, calls: dict[tuple[int, int], int] | None = None
) -> list[InvoiceDraft]:
    """The invoices at boundaries 0 .. until, each finalized before the next is drafted;
    `calls[(period, contract)]` is the count of calls metered in that segment."""
    calls = calls or {}
    state = BillingState()
    drafts = []
    for boundary in range(until + 1):
        usage = {}
        for seg in usage_segments(s, boundary):
            n = calls.get((seg.period.index, seg.term.index), 0)
            usage[(seg.start, seg.end)] = {"calls": MeteredUsage(D(n), n)}
        draft = draft_invoice(catalog, s, boundary, usage, state.billed, state.credits_used)
        assert draft is not None
        state.record(draft)
        drafts.append(draft)
    return drafts


def first_period(s: Schedule) -> Period:
    period = s.period(0)
    assert period is not None
    return period


def amounts(draft: InvoiceDraft) -> dict[str, Decimal]:
    return {str(line.key): line.amount for line in draft.lines}


def holding(segments: tuple[Segment, ...], instant: datetime) -> int:
    """Which contract's segment meters an event at `instant` (segments are half-open)."""
    (found,) = [seg.term.index for seg in segments if seg.start <= instant < seg.end]
    return found


# -- a contract starting mid-period on a clock-change day ------------------------------------------


def test_new_york_plan_change_on_the_spring_forward_day() -> None:
    # March 2026 is 31 days (743 hours); A bills Mar 1 - 7 (7 days), B from Sun Mar 8 (24 days)
    catalog, s = customer(
        "America/New_York",
        [
            plan("a", flat("100.00"), flat("20.00", timing="in_arrears", prorate=False), minimum="500.00"),
            plan("b", flat("100.00"), minimum="250.00"),
        ],
        {"plan": "a", "starts_on": "2026-02-01", "ends_on": "2026-03-07"},
        {"plan": "b", "starts_on": "2026-03-08"},
    )
    march = s.period(1)
    assert march is not None and (march.end - march.start) / HOUR == 743
    a, b = s.segments(march)
    assert (a.coverage, b.coverage) == (Coverage(7, 31), Coverage(24, 31))
    assert a.end == b.start == utc(2026, 3, 8, 5)  # 00:00 EST: the clock jumps at 02:00
    _, opening, closing = invoices(catalog, s, 2)
    # issued Mar 1: February closes, March in advance on both sides
    assert opening.issued_at == utc(2026, 3, 1, 5) and opening.issued_on == date(2026, 3, 1)
    assert amounts(opening) == {
        # February closes: A's fee in arrears, and its true-up: 500 - (100 in advance + 20)
        "2026-02-01/2026-02-01/flat:fee:1": D("20.00"),
        "2026-02-01/2026-02-01/minimum": D("380.00"),
        "2026-02-01/2026-03-01/flat:fee": D("22.58"),  # 100 x 7 / 31 = 22.5806...
        "2026-03-08/2026-03-01/flat:fee": D("77.42"),  # 100 x 24 / 31 = 77.4193...
    }
    # issued Apr 1: March closes
    assert closing.issued_at == utc(2026, 4, 1, 4)  # 00:00 EDT
    assert amounts(closing) == {
        "2026-02-01/2026-03-01/flat:fee:1": D("20.00"),  # prorate: false, billed in full for 7 days
        # A's minimum: 500 x 7 / 31 = 112.9032... -> 112.90, less its charges 22.58 + 20.00
        "2026-02-01/2026-03-01/minimum": D("70.32"),
        # B's minimum: 250 x 24 / 31 = 193.5483... -> 193.55, less its fee 77.42
        "2026-03-08/2026-03-01/minimum": D("116.13"),
        "2026-03-08/2026-04-01/flat:fee": D("100.00"),  # April in advance, whole
    }


def test_paris_plan_change_on_the_spring_forward_day_rounds_once() -> None:
    # March in Paris: A bills Mar 1 - 28 (28 days), B from Sun Mar 29 (3 days of 31)
    catalog, s = customer(
        "Europe/Paris",
        [plan("a", flat("10.38")), plan("b", flat("10.38"))],
        {"plan": "a", "starts_on": "2026-03-01", "ends_on": "2026-03-28"},
        {"plan": "b", "starts_on": "2026-03-29"},
    )
    a, b = s.segments(first_period(s))
    assert (a.coverage, b.coverage) == (Coverage(28, 31), Coverage(3, 31))
    assert a.end == b.start == utc(2026, 3, 28, 23)  # 29 Mar 00:00 CET; summer time from 02:00
    (opening,) = invoices(catalog, s, 0)
    assert opening.issued_at == utc(2026, 2, 28, 23) and opening.issued_on == date(2026, 3, 1)
    assert amounts(opening) == {
        "2026-03-01/2026-03-01/flat:fee": D("9.38"),  # 10.38 x 28 / 31 = 9.3754...
        # 10.38 x 3 / 31 = 1.004516...: 1.00 rounded once (1.005 then 1.01 if rounded twice)
        "2026-03-29/2026-03-01/flat:fee": D("1.00"),
    }


def test_lord_howe_plan_change_on_the_half_hour_fall_back_day() -> None:
    # April 2026 on Lord Howe: 30 days, 720.5 hours; A bills Apr 1 - 4, B from Sun Apr 5
    charges = (flat("45.00"), flat("15.00", timing="in_arrears", prorate=False))
    catalog, s = customer(
        "Australia/Lord_Howe",
        [plan("a", *charges, minimum="99.99"), plan("b", *charges, minimum="99.99")],
        {"plan": "a", "starts_on": "2026-04-01", "ends_on": "2026-04-04"},
        {"plan": "b", "starts_on": "2026-04-05"},
    )
    april = first_period(s)
    assert (april.end - april.start) / HOUR == 720.5
    a, b = s.segments(april)
    assert (a.coverage, b.coverage) == (Coverage(4, 30), Coverage(26, 30))
    # 5 Apr 00:00 is still summer time (+11:00): the clock goes back at 02:00
    assert a.end == b.start == utc(2026, 4, 4, 13)
    assert b.end == utc(2026, 4, 30, 13, 30)  # 1 May 00:00 +10:30
    opening, closing = invoices(catalog, s, 1)
    assert amounts(opening) == {
        "2026-04-01/2026-04-01/flat:fee": D("6.00"),  # 45 x 4 / 30
        "2026-04-05/2026-04-01/flat:fee": D("39.00"),  # 45 x 26 / 30
    }
    assert amounts(closing) == {
        "2026-04-01/2026-04-01/flat:fee:1": D("15.00"),  # prorate: false: in full for 4 days
        # A's minimum 99.99 x 4 / 30 = 13.332 -> 13.33, below its 6.00 + 15.00: no true-up
        "2026-04-05/2026-04-01/flat:fee:1": D("15.00"),
        # B's minimum 99.99 x 26 / 30 = 86.658 -> 86.66, less its 39.00 + 15.00
        "2026-04-05/2026-04-01/minimum": D("32.66"),
        "2026-04-05/2026-05-01/flat:fee": D("45.00"),  # May in advance, whole
    }
    assert closing.issued_at == utc(2026, 4, 30, 13, 30) and closing.issued_on == date(2026, 5, 1)


# -- a plan change on a clock-change day: usage split at local midnight ----------------------------


def test_new_york_plan_change_on_the_fall_back_day() -> None:
    # Anchor Sep 15; A ends Sat Oct 31, B starts Sun Nov 1, when New York falls back at 02:00.
    # The period Oct 15 - Nov 14 is 31 days (745 hours): A has 17 of them, B 14.
    catalog, s = customer(
        "America/New_York",
        [plan("a", flat("62.00"), GRADUATED), plan("b", flat("93.00"), GRADUATED)],
        {"plan": "a", "starts_on": "2026-09-15", "ends_on": "2026-10-31"},
        {"plan": "b", "starts_on": "2026-11-01"},
    )
    split = s.period(1)
    assert split is not None and (split.start_date, split.end_date) == (
        date(2026, 10, 15),
        date(2026, 11, 15),
    )
    assert (split.end - split.start) / HOUR == 745
    segments = s.segments(split)
    a, b = segments
    assert (a.coverage, b.coverage) == (Coverage(17, 31), Coverage(14, 31))
    assert a.end == b.start == utc(2026, 11, 1, 4)  # 1 Nov 00:00 EDT
    assert holding(segments, utc(2026, 11, 1, 3, 59, 59, 999999)) == 0  # 31 Oct 23:59:59.999999 EDT
    assert holding(segments, utc(2026, 11, 1, 4, 30)) == 1  # 00:30 EDT on the change day
    assert holding(segments, utc(2026, 11, 1, 5, 30)) == 1  # 01:30 EDT ...
    assert holding(segments, utc(2026, 11, 1, 6, 30)) == 1  # ... and 01:30 EST, an hour later
    # A metered 12 calls, B 5: each side's tiers start from zero
    _, opening, closing = invoices(catalog, s, 2, {(1, 0): 12, (1, 1): 5})
    assert amounts(opening) == {
        "2026-09-15/2026-10-15/flat:fee": D("34.00"),  # 62 x 17 / 31
        "2026-09-15/2026-09-15/graduated:calls": D("0.00"),  # nothing in Sep 15 - Oct 14
        "2026-11-01/2026-10-15/flat:fee": D("42.00"),  # 93 x 14 / 31
    }
    assert amounts(closing) == {
        "2026-09-15/2026-10-15/graduated:calls": D("11.00"),  # 10 x 1.00 + 2 x 0.50
        "2026-11-01/2026-10-15/graduated:calls": D("5.00"),  # 5 x 1.00, not 5 x 0.50
        "2026-11-01/2026-11-15/flat:fee": D("93.00"),
    }
    assert closing.issued_at == utc(2026, 11, 15, 5) and closing.issued_on == date(2026, 11, 15)


def test_paris_plan_change_on_the_fall_back_day() -> None:
    # A bills Oct 1 - 24, B from Sun Oct 25, when Paris goes back from 03:00 CEST to 02:00 CET
    catalog, s = customer(
        "Europe/Paris",
        [plan("a", flat("31.00"), GRADUATED), plan("b", flat("62.00"), GRADUATED)],
        {"plan": "a", "starts_on": "2026-10-01", "ends_on": "2026-10-24"},
        {"plan": "b", "starts_on": "2026-10-25"},
    )
    october = first_period(s)
    assert (october.end - october.start) / HOUR == 745
    segments = s.segments(october)
    a, b = segments
    assert (a.coverage, b.coverage) == (Coverage(24, 31), Coverage(7, 31))
    assert a.end == b.start == utc(2026, 10, 24, 22)  # 25 Oct 00:00 CEST
    assert holding(segments, utc(2026, 10, 24, 21, 59, 59, 999999)) == 0
    assert holding(segments, utc(2026, 10, 24, 22, 30)) == 1  # 00:30 local on the change day
    opening, closing = invoices(catalog, s, 1, {(0, 0): 10, (0, 1): 11})
    assert amounts(opening) == {
        "2026-10-01/2026-10-01/flat:fee": D("24.00"),  # 31 x 24 / 31
        "2026-10-25/2026-10-01/flat:fee": D("14.00"),  # 62 x 7 / 31
    }
    assert amounts(closing) == {
        "2026-10-01/2026-10-01/graduated:calls": D("10.00"),
        "2026-10-25/2026-10-01/graduated:calls": D("10.50"),  # 10 x 1.00 + 1 x 0.50
        "2026-10-25/2026-11-01/flat:fee": D("62.00"),
    }
    assert closing.issued_at == utc(2026, 10, 31, 23)  # 1 Nov 00:00 CET


# -- Kolkata: local midnight is 18:30 UTC the day before -------------------------------------------


def test_a_kolkata_trial_bills_from_its_local_midnight() -> None:
    # 14 trial days from Feb 15: the trial is Feb 15 - 28, billing starts Mar 1 00:00 +05:30
    catalog, s = customer(
        "Asia/Kolkata",
        [plan("a", flat("31.00"), trial_days=14)],
        {"plan": "a", "starts_on": "2026-02-15"},
    )
    assert s.trial is not None and s.trial.end == utc(2026, 2, 28, 18, 30)
    assert s.period_at(utc(2026, 2, 28, 18, 29, 59, 999999)) is None  # still the trial: never billed
    (opening,) = invoices(catalog, s, 0)
    # issued on 28 Feb in UTC, which is 1 Mar in Kolkata
    assert opening.issued_at == utc(2026, 2, 28, 18, 30) and opening.issued_on == date(2026, 3, 1)
    # keyed by the contract's start day and the period's first day
    assert amounts(opening) == {"2026-02-15/2026-03-01/flat:fee": D("31.00")}
    # the trial-ending reminder is due 3 days before Mar 1, on Kolkata's Feb 26
    # (the scan's as-of is an end: the day is the one in progress just before it)
    assert due_reminders(catalog, utc(2026, 2, 25, 18, 30)) == []  # 23:59:59 on Feb 25 there
    (reminder,) = due_reminders(catalog, utc(2026, 2, 25, 18, 30, 0, 1))
    assert (reminder.on, reminder.context["days_left"]) == (date(2026, 2, 26), 3)
    assert reminder.context["trial_ends_on"] == "2026-03-01"


def test_kolkata_credits_serve_invoices_by_their_local_issue_date() -> None:
    # a December credit: the invoice issued at 18:30 UTC on Nov 30 is Kolkata's Dec 1 and takes
    # it; the one issued at 18:30 UTC on Dec 31 is Kolkata's Jan 1, after it expired
    credit = {"amount": "100.00", "granted_on": "2026-12-01", "expires_on": "2026-12-31"}
    catalog, s = customer(
        "Asia/Kolkata",
        [plan("a", flat("31.00"))],
        {"plan": "a", "starts_on": "2026-12-01", "credits": [credit]},
    )
    december, january = invoices(catalog, s, 1)
    assert (december.issued_at, december.issued_on) == (utc(2026, 11, 30, 18, 30), date(2026, 12, 1))
    assert (december.credits_applied, december.total) == (D("31.00"), D("0.00"))
    assert (january.issued_at, january.issued_on) == (utc(2026, 12, 31, 18, 30), date(2027, 1, 1))
    assert (january.credits_applied, january.total) == (D("0.00"), D("31.00"))


@pytest.mark.parametrize(
    ("tz", "split_at"),
    [
        ("America/Juneau", utc(2026, 3, 8, 9)),  # 8 Mar 00:00 AKST; AKDT from 02:00
        ("Asia/Kolkata", utc(2026, 3, 7, 18, 30)),
        ("UTC", utc(2026, 3, 8)),
    ],
)
def test_the_spring_forward_split_in_other_zones_counts_the_same_days(tz: str, split_at: datetime) -> None:
    catalog, s = customer(
        tz,
        [plan("a", flat("31.00")), plan("b", flat("31.00"))],
        {"plan": "a", "starts_on": "2026-03-01", "ends_on": "2026-03-07"},
        {"plan": "b", "starts_on": "2026-03-08"},
    )
    a, b = s.segments(first_period(s))
    assert (a.coverage, b.coverage) == (Coverage(7, 31), Coverage(24, 31))
    assert a.end == b.start == split_at
    assert split_at.astimezone(ZoneInfo(tz)).isoformat()[:19] == "2026-03-08T00:00:00"
    (opening,) = invoices(catalog, s, 0)
    assert sorted(amounts(opening).values()) == [D("7.00"), D("24.00")]
