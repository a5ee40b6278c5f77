"""The lifecycle scan through its Prefect flow: one instant, each customer on its own day."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from billing.cli.commands.pipeline import lifecycle_summary
from billing.store.catalog_versions import save_catalog
from tests.unit.test_lifecycle_days import trial_catalog

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]


def test_a_scan_at_one_instant_reminds_each_customer_on_its_local_day(configured, tmp_path):
    from flows.lifecycle import scan_lifecycle

    with configured.begin() as connection:
        save_catalog(connection, trial_catalog(), "test", datetime(2026, 3, 1, tzinfo=UTC))
    # 20:00 UTC on Mar 11: Mar 12 in Kolkata (3 days before its trial ends on Mar 15), still
    # Mar 11 in Los Angeles and in UTC (4 days before: not due yet)
    first = scan_lifecycle(datetime(2026, 3, 11, 20, tzinfo=UTC))
    assert first["as_of"] == "2026-03-11T20:00:00+00:00"
    assert first["due"] == [
        {
            "customer_id": "kolkata",
            "kind": "trial_ending",
            "recipient": "kolkata@example.com",
            "day": "2026-03-12",
            "subject": "contract/2026-03-01",
            "period": "2026-03-15/3d",
        }
    ]
    assert (first["new"], first["sent"], first["skipped"]) == (1, 1, [])
    # 20:00 UTC on Mar 14: Kolkata's trial is over (it is Mar 15 there: it hears so); Los
    # Angeles and UTC are on their last trial day, their reminders (due since their Mar 12) late
    last = scan_lifecycle(datetime(2026, 3, 14, 20, tzinfo=UTC))
    assert [(d["customer_id"], d["kind"], d["day"]) for d in last["due"]] == [
        ("kolkata", "trial_ended", "2026-03-15"),
        ("la", "trial_ending", "2026-03-14"),
        ("utc", "trial_ending", "2026-03-14"),
    ]
    assert (last["new"], last["sent"]) == (3, 3)
    table = lifecycle_summary(last)
    assert (
        "la        trial_ending  la@example.com       14 Mar 2026     contract/2026-03-01 2026-03-15/3d"
        in table
    ), table

    bodies = {}
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if "trial ends" in message["Subject"]:
            bodies[message["To"]] = (message["Subject"], message.get_body(("plain",)).get_content())
    assert bodies["kolkata@example.com"][0] == "Your Pro trial ends in 3 days"
    assert bodies["la@example.com"][0] == "Your Pro trial ends in 1 day"
    assert all("ends on 15 Mar 2026" in text for _, text in bodies.values())
