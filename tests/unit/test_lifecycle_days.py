"""Lifecycle reminders land on each customer's own calendar day, not on the UTC date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billing.core.as_of import as_of_instant
from billing.core.catalog import Catalog, parse_catalog
from billing.core.lifecycle import customer_day
from billing.core.lifecycle_catch_up import due_reminders

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def trial_catalog() -> Catalog:
    """Three customers on the same 14-day trial from Mar 1 (their local day): each trial ends on
    Mar 15 local, and the 3-day reminder is due on their local Mar 12, 13 and 14."""
    customers = [
        {
            "id": cid,
            "email": f"{cid}@example.com",
            "timezone": tz,
            "contracts": [{"plan": "pro", "starts_on": "2026-03-01"}],
        }
        for cid, tz in [("kolkata", "Asia/Kolkata"), ("la", "America/Los_Angeles"), ("utc", "UTC")]
    ]
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "pro",
                    "name": "Pro",
                    "interval": "monthly",
                    "trial_days": 14,
                    "charges": [{"model": "flat", "amount": "30.00"}],
                }
            ],
            "customers": customers,
        },
        "test",
    )


def due_at(catalog: Catalog, as_of: datetime) -> dict[str, tuple[date | None, int]]:
    """The trial-ending reminders due at an instant: customer -> (its day, days left)."""
    due = due_reminders(catalog, as_of)
    return {r.customer_id: (r.on, r.context["days_left"]) for r in due if r.kind == "trial_ending"}


def test_the_same_instant_is_another_day_in_kolkata_and_los_angeles():
    catalog = trial_catalog()
    # 20:00 UTC on Mar 11 is 01:30 on Mar 12 in Kolkata (due, 3 days left) and 13:00 on Mar 11
    # in Los Angeles (not due yet). The UTC date, Mar 11, would find neither.
    assert due_at(catalog, datetime(2026, 3, 11, 20, tzinfo=UTC)) == {"kolkata": (date(2026, 3, 12), 3)}
    # 20:00 UTC on Mar 14: Kolkata's trial ended at its midnight (Mar 15 there); Los Angeles is
    # on its last trial day. The UTC date would remind both, Kolkata a day late.
    at = datetime(2026, 3, 14, 20, tzinfo=UTC)
    assert due_at(catalog, at) == {"la": (date(2026, 3, 14), 1), "utc": (date(2026, 3, 14), 1)}
    # ... and Kolkata hears that its trial ended, on its Mar 15
    ended = [(r.customer_id, r.on) for r in due_reminders(catalog, at) if r.kind == "trial_ended"]
    assert ended == [("kolkata", date(2026, 3, 15))]


def test_an_instant_with_an_offset_is_the_same_instant():
    catalog = trial_catalog()
    in_kolkata = as_of_instant("2026-03-12T01:30:00+05:30", NOW)
    assert due_at(catalog, in_kolkata) == due_at(catalog, datetime(2026, 3, 11, 20, tzinfo=UTC))


def test_a_date_is_the_end_of_that_day_in_utc():
    catalog = trial_catalog()
    # the end of Mar 11, UTC: still Mar 11 for the UTC customer and in Los Angeles (16:59),
    # already Mar 12 in Kolkata (05:29)
    assert due_at(catalog, as_of_instant(date(2026, 3, 11), NOW)) == {"kolkata": (date(2026, 3, 12), 3)}
    # the end of Mar 12: the UTC customer's first reminder day; Los Angeles still on Mar 12
    assert due_at(catalog, as_of_instant(date(2026, 3, 12), NOW)) == {
        "kolkata": (date(2026, 3, 13), 2),
        "la": (date(2026, 3, 12), 3),
        "utc": (date(2026, 3, 12), 3),
    }


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (datetime(2026, 3, 12, 0, tzinfo=UTC), date(2026, 3, 11)),  # an as-of is an end
        (datetime(2026, 3, 12, 0, 0, 1, tzinfo=UTC), date(2026, 3, 12)),
        (datetime(2026, 3, 11, 23, 59, tzinfo=UTC), date(2026, 3, 11)),
    ],
)
def test_the_customer_day_at_an_instant(as_of, expected):
    assert customer_day(trial_catalog().customer("utc"), as_of) == expected
