"""The lifecycle scan flow with a webhook configured: each reminder by email and by signed
webhook, once; a receiver that fails is retried by a later scan after its backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from billing.cli.commands.pipeline import lifecycle_summary
from billing.runtime import resources
from billing.runtime.settings import get_settings
from billing.store.catalog_versions import save_catalog
from billing.store.models import Notification, NotificationDelivery
from tests.fake_webhook import WEBHOOK_SECRET
from tests.unit.test_lifecycle_days import trial_catalog

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def with_webhook(configured, webhook_receiver, monkeypatch):
    monkeypatch.setenv("BILLING_WEBHOOK_URL", webhook_receiver.url)
    monkeypatch.setenv("BILLING_WEBHOOK_SECRET", WEBHOOK_SECRET)
    get_settings.cache_clear()
    with configured.begin() as connection:
        save_catalog(connection, trial_catalog(), "test", datetime(2026, 3, 1, tzinfo=UTC))
    return configured


def test_a_scan_delivers_each_reminder_by_email_and_by_webhook_once(with_webhook, webhook_receiver, tmp_path):
    from flows.lifecycle import scan_lifecycle

    summary = scan_lifecycle(datetime(2026, 3, 14, 20, tzinfo=UTC))  # la and utc: 1 day left
    assert (summary["new"], summary["sent"], summary["failed"]) == (3, 6, 0)  # 3 emails, 3 webhooks
    assert (summary["emails"], summary["webhooks"]) == (
        {"sent": 3, "failed": 0, "failed_for_good": 0, "held_back": 0},
        {"sent": 3, "failed": 0, "failed_for_good": 0, "held_back": 0},
    )
    assert "; emails sent 3, webhooks sent 3\n" in lifecycle_summary(summary)  # not "emails sent 6"
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 3
    keys = sorted(webhook_receiver.ids())
    assert keys == [  # already the 15th in Kolkata: its trial has ended
        "trial_ended/kolkata/contract/2026-03-01/2026-03-15",
        *(f"trial_ending/{c}/contract/2026-03-01/2026-03-15/3d" for c in ("la", "utc")),
    ]
    assert all(r.ok for r in webhook_receiver.requests)  # verified with standardwebhooks
    data = next(r.json()["data"] for r in webhook_receiver.requests if r.json()["type"] == "trial_ending")
    assert data["trial_ends_on"] == "2026-03-15" and data["days_left"] == 1

    again = scan_lifecycle(datetime(2026, 3, 14, 21, tzinfo=UTC))
    assert (again["new"], again["sent"]) == (0, 0)
    assert len(webhook_receiver.requests) == 3
    with with_webhook.connect() as connection:
        rows = connection.execute(sa.select(Notification.customer_id, Notification.kind, Notification.status))
        assert sorted(rows.all()) == [
            ("kolkata", "trial_ended", "sent"),
            ("kolkata", "trial_ending", "skipped"),  # its trial had ended by the first scan
            ("la", "trial_ending", "sent"),
            ("utc", "trial_ending", "sent"),
        ]


def test_a_failing_receiver_is_retried_by_a_later_scan_after_its_backoff(
    with_webhook, webhook_receiver, monkeypatch, caplog
):
    from flows.lifecycle import scan_lifecycle

    webhook_receiver.statuses = [503]
    clock = [datetime(2026, 3, 14, 20, tzinfo=UTC)]
    monkeypatch.setattr(resources, "utc_now", lambda: clock[0])
    first = scan_lifecycle(clock[0])
    # the emails went; the first webhook was refused and the receiver's "slow down" held back
    # the other two untried, so that none spends a try on the same refusal
    assert (first["sent"], first["failed"]) == (3, 1)
    assert "not sent, will retry: " in caplog.text and "HTTP 503" in caplog.text
    assert "not sent: 2 webhook deliveries wait untried until 2026-03-14T20:01:00+00:00" in caplog.text
    assert WEBHOOK_SECRET not in caplog.text
    clock[0] += timedelta(seconds=30)  # inside the backoff: nothing is tried
    assert (scan_lifecycle(clock[0])["sent"], len(webhook_receiver.requests)) == (0, 1)
    clock[0] += timedelta(minutes=1)
    assert scan_lifecycle(clock[0])["sent"] == 3
    with with_webhook.connect() as connection:
        rows = connection.execute(
            sa.select(
                NotificationDelivery.channel, NotificationDelivery.status, NotificationDelivery.attempts
            )
        )
        assert sorted(rows.all()) == [("email", "sent", 1)] * 3 + [("webhook", "sent", 1)] * 2 + [
            ("webhook", "sent", 2)
        ]
