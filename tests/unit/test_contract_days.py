"""A contract's days reach no further than billing can count: `ends_on: 9999-12-31` (another
system's "forever"), a term or a trial running past year 9999 are refused at `catalog check`
with the path and the value, never an overflow at `catalog load` or in a scan; renewals stop at
the last term that is a date, and a reminder counts back no further than its contract's start."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from billing.core.errors import CatalogError
from billing.core.lifecycle_catch_up import catch_up, due_reminders
from billing.core.lifecycle_dates import date_tracks
from billing.core.periods import Schedule
from tests.unit.test_lifecycle_dates import catalog_of, customer

KIRITIMATI = "Pacific/Kiritimati"  # +14: the end of 9998-12-31 UTC is already 9999-01-01 there


def contract(**fields: object) -> dict[str, object]:
    return {"plan": "pro", "starts_on": "2026-01-15", **fields}


@pytest.mark.parametrize(
    ("fields", "plan", "message"),
    [
        (
            {"ends_on": "9999-12-31"},
            {},
            "test: customers[0].contracts[0]: ends_on 9999-12-31 is after 9998-12-31, the last day "
            "billing reaches: leave ends_on out (or null) for a contract without an end",
        ),
        (
            {"starts_on": "9999-06-01"},
            {},
            "test: customers[0].contracts[0]: starts_on 9999-06-01 is after 9998-12-31, the last day "
            "billing reaches",
        ),
        (
            {"term_months": 1_000_000},
            {},
            "test: customers[0].contracts[0]: term_months 1000000 from starts_on 2026-01-15 ends after "
            "9998-12-31, the last day billing reaches",
        ),
        (
            {"term_months": 1_000_000, "auto_renew": True},
            {},
            "test: customers[0].contracts[0]: term_months 1000000 from starts_on 2026-01-15 ends after "
            "9998-12-31, the last day billing reaches",
        ),
        (
            {},
            {"trial_days": 10_000_000},
            "test: customers[0].contracts[0].starts_on: its plan's 10000000-day trial from starts_on "
            "2026-01-15 ends after 9998-12-31, the last day billing reaches (got 2026-01-15)",
        ),
    ],
)
def test_days_past_what_billing_counts_are_refused_at_check(fields, plan, message):
    with pytest.raises(CatalogError) as refused:
        catalog_of([customer("a", KIRITIMATI, contract(**fields))], **plan)
    assert str(refused.value) == message


def test_the_last_day_there_is_still_loads_and_lays_out():
    catalog = catalog_of([customer("a", KIRITIMATI, contract(ends_on="9998-12-31"))])
    schedule = Schedule(catalog, catalog.customers[0])
    assert schedule.bills_until == date(9999, 1, 1)
    (ending,) = date_tracks(catalog, schedule)
    assert (ending.kind, ending.event(0)) == ("contract_ending", date(9999, 1, 1))


def test_renewals_stop_at_the_last_term_that_is_a_date():
    catalog = catalog_of([customer("a", KIRITIMATI, contract(auto_renew=True, term_months=120))])
    tracks = date_tracks(catalog, Schedule(catalog, catalog.customers[0]))
    renewed = next(t for t in tracks if t.kind == "renewed")
    # 2026-01-15 + 120 months x 796 = 9986-01-15; the term after 9996-01-15 would end in 10006
    assert [o.event_on for o in renewed.occurrences(795)] == [date(9976, 1, 15), date(9986, 1, 15)]
    assert catch_up(renewed, 797, date(9999, 1, 1)).next is None
    # a dry run at the last as-of there is (9999-01-01 in Kiritimati) decides, never overflows
    assert due_reminders(catalog, datetime(9999, 1, 1, tzinfo=UTC)) == []


def test_a_reminder_counts_back_no_further_than_its_contract_start():
    catalog = catalog_of([customer("a", "UTC", contract(starts_on="0001-01-01"))], trial_days=1)
    (ending, _ended) = date_tracks(catalog, Schedule(catalog, catalog.customers[0]))
    (first,) = ending.occurrences()  # 3 days before 0001-01-02 would be before the first date
    assert (first.opens_on, first.event_on) == (date(1, 1, 1), date(1, 1, 2))


def test_a_trial_ending_on_the_last_day_loads():
    catalog = catalog_of([customer("a", "UTC", {"plan": "trial", "starts_on": "9998-12-17"})])
    assert Schedule(catalog, catalog.customers[0]).anchor == date(9998, 12, 31)
