"""The history's store read on SQLite and PostgreSQL: keyset pages of any size put together are
the whole history, newest first, each notification once; filters compose."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.store import send_ledger
from billing.store.notification_history import HistoryQuery, notification_history
from tests.ledger_rows import RECORDED, reminder

KINDS = ("spend_threshold", "trial_ending", "credits_low")


def _fill(engine) -> list[int]:
    reminders = [reminder("bravo", KINDS[d % 3], f"2026-03-{d:02d}") for d in range(1, 24)]
    with engine.begin() as connection:
        send_ledger.enqueue(connection, reminders[:15], RECORDED)
        send_ledger.record_skipped(connection, reminders[15:], RECORDED, "too late")
        send_ledger.enqueue(connection, [reminder("alpha", "trial_ending", "2026-03-01")], RECORDED)
        return [
            p.id for p in notification_history(connection, HistoryQuery("bravo", limit=200)).notifications
        ]


def _pages(connection, query: HistoryQuery) -> list[list[int]]:
    pages, before = [], None
    for _ in range(100):  # a pager that never ends fails rather than hangs
        page = notification_history(connection, replace(query, before=before))
        pages.append([n.id for n in page.notifications])
        if page.next_before is None:
            return pages
        before = page.next_before
    raise AssertionError(f"no last page after 100 pages: {pages[-3:]}")


def test_pages_put_together_are_the_history(engine) -> None:
    everything = _fill(engine)
    assert len(everything) == 23 and everything == sorted(everything, reverse=True)

    @given(limit=st.integers(min_value=1, max_value=30), kind=st.sampled_from((None, *KINDS)))
    @settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    def check(limit: int, kind: str | None) -> None:
        with engine.connect() as connection:
            full = notification_history(connection, HistoryQuery("bravo", kind, limit=200)).notifications
            pages = _pages(connection, HistoryQuery("bravo", kind, limit=limit))
        assert [i for page in pages for i in page] == [n.id for n in full]
        assert all(len(page) == limit for page in pages[:-1])  # only the last page is short
        assert 0 < len(pages[-1]) <= limit or not full
        assert {n.kind for n in full} <= ({kind} if kind else set(KINDS))

    check()


def test_filters_compose(engine) -> None:
    _fill(engine)
    with engine.connect() as connection:
        skipped = notification_history(connection, HistoryQuery("bravo", status="skipped", limit=200))
        both = notification_history(connection, HistoryQuery("bravo", "credits_low", "skipped", limit=200))
        everyone = notification_history(connection, HistoryQuery(limit=200))
    assert len(skipped.notifications) == 8 and {n.reason for n in skipped.notifications} == {"too late"}
    assert all(n.deliveries == () for n in skipped.notifications)
    assert [n.period for n in both.notifications] == ["2026-03-23", "2026-03-20", "2026-03-17"]
    assert [n.customer_id for n in everyone.notifications][:2] == ["alpha", "bravo"]
