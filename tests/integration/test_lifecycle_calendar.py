"""The lifecycle calendar in the database: laid out when a catalog is saved, selected by when
each notice fires, decided, stepped on; rebuilt by a new catalog version without re-sending a
key; safe when two scans decide the same rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from billing.services.lifecycle_scan import decide_entries, scan_reminders
from billing.store import send_ledger
from billing.store.catalog_versions import StoredCatalog, save_catalog
from billing.store.lifecycle_calendar import advance, due_entries
from billing.store.models import LifecycleCalendarRow, LifecycleCalendarState, Notification
from tests.unit.test_lifecycle_dates import catalog_of, customer, every_kind

NOW = datetime(2026, 1, 1, tzinfo=UTC)
KOLKATA = "Asia/Kolkata"


def end_of(day: date) -> datetime:
    """`--as-of DAY`: the end of that day, UTC (already the next day in Kolkata)."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)


def saved(engine, catalog=None) -> StoredCatalog:
    with engine.begin() as connection:
        return save_catalog(connection, catalog or every_kind(KOLKATA), "test", NOW)


def calendar(engine) -> dict[tuple[str, str, int], tuple[int, datetime]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                LifecycleCalendarRow.customer_id,
                LifecycleCalendarRow.kind,
                LifecycleCalendarRow.offset_days,
                LifecycleCalendarRow.position,
                LifecycleCalendarRow.fires_at,
            )
        ).all()
    return {(r.customer_id, r.kind, r.offset_days): (r.position, r.fires_at) for r in rows}


def ledger(engine) -> dict[str, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Notification.kind,
                Notification.customer_id,
                Notification.subject,
                Notification.period,
                Notification.status,
            )
        ).all()
    return {f"{r.kind}/{r.customer_id}/{r.subject}/{r.period}": r.status for r in rows}


def test_saving_a_catalog_lays_out_each_tracks_next_occurrence(engine):
    stored = saved(engine)
    laid_out = calendar(engine)
    assert sorted(laid_out) == [
        ("ends", "contract_ending", 30),
        ("renews", "renewal_upcoming", 7),
        ("renews", "renewal_upcoming", 30),
        ("renews", "renewed", 0),
        ("trial", "trial_ended", 0),
        ("trial", "trial_ending", 3),
    ]
    # the UTC instants of Kolkata's midnights: Mar 16 (30 days before Apr 15), Apr 15, Jun 1
    assert laid_out[("renews", "renewal_upcoming", 30)] == (1, datetime(2026, 3, 15, 18, 30, tzinfo=UTC))
    assert laid_out[("renews", "renewed", 0)] == (1, datetime(2026, 4, 14, 18, 30, tzinfo=UTC))
    assert laid_out[("ends", "contract_ending", 30)] == (0, datetime(2026, 5, 31, 18, 30, tzinfo=UTC))
    with engine.connect() as connection:
        state = connection.execute(sa.select(LifecycleCalendarState.__table__)).one()
    assert (state.catalog_version_id, state.scanned_through) == (stored.id, None)


def test_a_scan_enqueues_what_fired_and_steps_each_row_on(engine):
    stored = saved(engine)
    report = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, False, stored.id)  # Kolkata's Mar 16
    assert [(r.customer_id, r.kind, r.period, r.on) for r in report.due] == [
        ("renews", "renewal_upcoming", "2026-04-15/30d", date(2026, 3, 16)),
        ("trial", "trial_ended", "2026-03-15", date(2026, 3, 16)),
    ]
    assert [(r.kind, r.period) for r in report.skipped] == [("trial_ending", "2026-03-15/3d")]  # too late
    assert (report.new, report.new_skipped) == (2, 1)
    assert ledger(engine) == {
        "renewal_upcoming/renews/contract/2026-01-15/2026-04-15/30d": "pending",
        "trial_ended/trial/contract/2026-03-01/2026-03-15": "pending",
        "trial_ending/trial/contract/2026-03-01/2026-03-15/3d": "skipped",
    }
    laid_out = calendar(engine)
    # the renewal reminder moves on to the next term's (Jul 15, 30 days before: Jun 15 there);
    # the trial's notices are done, their rows gone
    assert laid_out[("renews", "renewal_upcoming", 30)] == (2, datetime(2026, 6, 14, 18, 30, tzinfo=UTC))
    assert ("trial", "trial_ended", 0) not in laid_out and ("trial", "trial_ending", 3) not in laid_out
    again = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, False, stored.id)
    assert (again.due, again.skipped, again.new) == ([], [], 0)


def test_a_dry_run_decides_the_same_and_writes_nothing(engine):
    stored = saved(engine)
    before = calendar(engine)
    dry = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, True, stored.id)
    assert [r.kind for r in dry.due] == ["renewal_upcoming", "trial_ended"] and dry.new == 2
    assert [r.kind for r in dry.skipped] == ["trial_ending"] and dry.new_skipped == 1
    assert calendar(engine) == before and ledger(engine) == {}


def test_a_new_catalog_version_rebuilds_the_calendar_and_nothing_is_sent_twice(engine):
    saved(engine)
    first = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, False, saved(engine).id)
    held = ledger(engine)
    assert len(held) == 3 and first.new == 2
    # a new version: one more customer, whose renewal reminder fired too
    bigger = every_kind(KOLKATA).model_dump(mode="json")
    bigger["customers"].append(
        customer(
            "later", "UTC", {"plan": "pro", "starts_on": "2026-01-20", "auto_renew": True, "term_months": 3}
        )
    )
    stored = saved(engine, catalog_of(bigger["customers"]))
    assert ("later", "renewal_upcoming", 30) in calendar(engine)
    # the rebuild started each track where the last scan decided through (Mar 15's end), past
    # what the ledger holds: the trial's announcement and the first renewal reminder, still
    # open, are not decided again
    assert calendar(engine)[("renews", "renewal_upcoming", 30)][0] == 2
    report = scan_reminders(engine, end_of(date(2026, 3, 21)), NOW, False, stored.id)
    assert [(r.customer_id, r.kind) for r in report.due] == [("later", "renewal_upcoming")]
    assert (report.new, report.skipped) == (1, [])
    assert {k: v for k, v in ledger(engine).items() if k in held} == held
    assert set(ledger(engine)) - set(held) == {"renewal_upcoming/later/contract/2026-01-20/2026-04-20/30d"}


def test_two_scans_deciding_the_same_rows_send_once_and_step_once(engine):
    stored = saved(engine)
    as_of = end_of(date(2026, 3, 16))
    with engine.connect() as a, engine.connect() as b:
        read_a, read_b = due_entries(a, as_of), due_entries(b, as_of)
        a.rollback()
        b.rollback()
        assert read_a.catalog_version_id == read_b.catalog_version_id == stored.id
        decided_a, steps_a = decide_entries(read_a.entries, as_of)
        decided_b, steps_b = decide_entries(read_b.entries, as_of)
        due_a = [d.reminder for d in decided_a if not d.skipped]
        due_b = [d.reminder for d in decided_b if not d.skipped]
        assert send_ledger.enqueue(a, due_a, NOW) == 2
        assert advance(a, steps_a) == 3
        a.commit()
        assert send_ledger.enqueue(b, due_b, NOW) == 0  # the key stops the second send
        assert advance(b, steps_b) == 0  # every row moved on already: the old fires_at is gone
        b.commit()
    assert len(ledger(engine)) == 2
    assert calendar(engine)[("renews", "renewal_upcoming", 30)][0] == 2


def test_daily_scans_and_one_late_scan_record_the_same_keys(engine, wipe):
    days = [date(2026, 3, 1) + timedelta(days=n) for n in range(0, 140)]
    stored = saved(engine)
    for day in days:
        assert not scan_reminders(engine, end_of(day), NOW, False, stored.id).skipped
    daily, daily_calendar = ledger(engine), calendar(engine)
    wipe()
    stored = saved(engine)
    late = scan_reminders(engine, end_of(days[-1]), NOW, False, stored.id)
    assert set(ledger(engine)) == set(daily) and len(daily) == 9  # 2 trial, 6 renewal, 1 ending
    assert late.new + late.new_skipped == len(daily)
    assert calendar(engine) == daily_calendar


def test_a_database_migrated_with_a_catalog_already_loaded_builds_its_calendar_at_the_first_scan(engine):
    stored = saved(engine)
    with engine.begin() as connection:
        connection.execute(sa.delete(LifecycleCalendarRow))
        connection.execute(sa.delete(LifecycleCalendarState))
    # a dry run cannot build it: it decides from the catalog itself, what is due that day
    dry = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, True, stored.id)
    assert [r.kind for r in dry.due] == ["renewal_upcoming", "trial_ended"] and not dry.from_calendar
    report = scan_reminders(engine, end_of(date(2026, 3, 15)), NOW, False, stored.id)
    assert report.from_calendar and (report.new, report.new_skipped) == (2, 1)
    assert len(calendar(engine)) == 4


def test_each_trial_ending_offset_is_a_notice_and_a_late_scan_sends_the_nearest(engine):
    trial = customer(
        "t", "UTC", {"plan": "trial", "starts_on": "2026-03-01", "notifications": {"trial_ending": [7, 3]}}
    )
    stored = saved(engine, catalog_of([trial]))
    week = scan_reminders(engine, end_of(date(2026, 3, 8)), NOW, False, stored.id)  # 7 days before
    assert [(r.kind, r.period, r.context["days_left"]) for r in week.due] == [
        ("trial_ending", "2026-03-15/7d", 7)
    ]
    days = scan_reminders(engine, end_of(date(2026, 3, 12)), NOW, False, stored.id)  # 3 days before
    assert [(r.kind, r.period, r.context["days_left"]) for r in days.due] == [
        ("trial_ending", "2026-03-15/3d", 3)
    ]
    assert len(ledger(engine)) == 2

    late_trial = customer(
        "u", "UTC", {"plan": "trial", "starts_on": "2026-03-01", "notifications": {"trial_ending": [7, 3]}}
    )
    stored = saved(engine, catalog_of([trial, late_trial]))
    late = scan_reminders(engine, end_of(date(2026, 3, 13)), NOW, False, stored.id)  # u: both fired
    assert [(r.customer_id, r.period, r.context["days_left"]) for r in late.due] == [
        ("u", "2026-03-15/3d", 2)
    ]
    assert [(r.customer_id, r.period) for r in late.skipped] == [("u", "2026-03-15/7d")]  # superseded
