"""A renewal through the `scan-lifecycle` flow, end to end (calendar, ledger, outbox), and
`billing lifecycle scan --dry-run` printing what would be sent, writing nothing."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy

import pytest
import sqlalchemy as sa

from billing.cli.main import main
from billing.store.catalog_versions import save_catalog
from billing.store.models import LifecycleCalendarRow, Notification
from tests.unit.test_lifecycle_dates import catalog_of, customer

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]

LOADED = datetime(2026, 1, 1, tzinfo=UTC)


def renewing_in_kolkata():
    """3-month terms from Jan 15, Kolkata: renewals on Apr 15 and Jul 15."""
    contract = {"plan": "pro", "starts_on": "2026-01-15", "auto_renew": True, "term_months": 3}
    return catalog_of([customer("acme", "Asia/Kolkata", contract)])


def outbox(tmp_path) -> list[tuple[str, str]]:
    mails = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        mails.append((message["Subject"], message.get_body(("plain",)).get_content()))
    return mails


def test_a_renewal_is_announced_before_and_on_its_day_and_the_next_term_after(configured, tmp_path):
    from flows.lifecycle import scan_lifecycle

    with configured.begin() as connection:
        save_catalog(connection, renewing_in_kolkata(), "test", LOADED)
    # `--as-of DAY` is the end of that day, UTC: already the next day in Kolkata
    scans = {day: scan_lifecycle(date(2026, *day)) for day in [(3, 15), (3, 16), (4, 7), (4, 14), (6, 14)]}
    assert [(d["kind"], d["day"], d["period"]) for s in scans.values() for d in s["due"]] == [
        ("renewal_upcoming", "2026-03-16", "2026-04-15/30d"),
        ("renewal_upcoming", "2026-04-08", "2026-04-15/7d"),
        ("renewed", "2026-04-15", "2026-04-15"),
        ("renewal_upcoming", "2026-06-15", "2026-07-15/30d"),  # the next term's
    ]
    assert scans[(3, 16)]["due"] == [] and all(s["sent"] == len(s["due"]) for s in scans.values())
    mails = outbox(tmp_path)
    assert sorted(subject for subject, _ in mails) == [
        "Your Pro contract has renewed for 3 months",
        "Your Pro contract renews in 30 days",
        "Your Pro contract renews in 30 days",
        "Your Pro contract renews in 7 days",
    ]
    (renewed,) = [text for subject, text in mails if "has renewed" in subject]
    assert "renewed on 15 Apr 2026 for 3 months" in renewed
    assert "the new term runs 15 Apr 2026 – 14 Jul 2026" in renewed
    (july,) = [text for _, text in mails if "renews on 15 Jul 2026" in text]
    assert "in 30 days, for another 3 months" in july and "$30.00 per period" in july
    with configured.connect() as connection:
        rows = connection.execute(sa.select(LifecycleCalendarRow.kind, LifecycleCalendarRow.position)).all()
    assert sorted(rows) == [("renewal_upcoming", 2), ("renewal_upcoming", 3), ("renewed", 2)]


def test_the_dry_run_prints_who_would_hear_what_and_writes_nothing(configured, capsys):
    with configured.begin() as connection:
        save_catalog(connection, renewing_in_kolkata(), "test", LOADED)

    def state():
        with configured.connect() as connection:
            calendar = connection.execute(sa.select(LifecycleCalendarRow.__table__)).all()
            return calendar, connection.scalar(sa.select(sa.func.count()).select_from(Notification))

    before = state()
    # an instant with its offset: 20:00 UTC on Mar 15 is 01:30 on Mar 16 in Kolkata
    for as_of in ("2026-03-15T20:00:00+00:00", "2026-03-15"):
        assert main(["lifecycle", "scan", "--as-of", as_of, "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "(dry run: nothing written): 1 due (1 new), 0 skipped" in out, out
        assert "would send:" in out
        assert (
            "acme      renewal_upcoming  acme@example.com  16 Mar 2026     contract/2026-01-15 2026-04-15/30d"
            in out
        )
    assert state() == before
    # a late dry run, on Kolkata's Apr 21: both reminders of the Apr 15 renewal came too late,
    # its announcement is still due (until Apr 22)
    assert main(["lifecycle", "scan", "--as-of", "2026-04-20", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 due (1 new), 2 skipped as too late (2 new)" in out, out
    assert "skipped:" in out and "contract/2026-01-15 2026-04-15/7d" in out
    assert state() == before
    assert main(["lifecycle", "scan", "--as-of", "2026-03-15T25:00:00+00:00", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip()
        == "billing: not a date: '2026-03-15T25:00:00+00:00' (expected YYYY-MM-DD or an ISO 8601 datetime)"
    )
