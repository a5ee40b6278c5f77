"""Exactly once under concurrency, counted at the receivers: two scans at once in two processes
on PostgreSQL deliver each notification once per channel; a process killed in the middle of a
send causes at most one repeat, which carries the same key as the first try."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.notify.webhooks import WebhookSender
from billing.services.notification_delivery import deliver_all
from billing.services.webhook_delivery import WebhookChannel
from billing.store import send_ledger
from billing.store.catalog_versions import save_catalog
from billing.store.models import NotificationDelivery
from tests.fake_webhook import WEBHOOK_SECRET
from tests.integration.test_webhooks import KEY, _reminder

AS_OF = datetime(2026, 3, 12, 20, tzinfo=UTC)  # 3 days before every trial ends (Mar 15)
NOW = datetime(2026, 3, 12, 20, 5, tzinfo=UTC)
CUSTOMERS = [f"c{n:03d}" for n in range(40)]


def _catalog() -> Any:
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
            "customers": [
                {
                    "id": cid,
                    "email": f"{cid}@example.com",
                    "contracts": [{"plan": "pro", "starts_on": "2026-03-01"}],
                }
                for cid in CUSTOMERS
            ],
        }
    )


def _scan_and_deliver(url: str, sendgrid: str, webhook: str, ready: Any, results: Any) -> None:
    """One scan in its own process, as `billing lifecycle scan` runs it: queue, then deliver
    by email (SendGrid) and by webhook."""
    from billing.notify.sendgrid_mail import SendGridBackend
    from billing.services.email_delivery import EmailChannel
    from billing.services.lifecycle_scan import scan_reminders
    from billing.store.catalog_versions import active_catalog
    from billing.store.database import create_engine

    engine = create_engine(url)
    with engine.connect() as connection:
        version_id = active_catalog(connection).id
    senders = [
        EmailChannel(
            SendGridBackend("SG.race.key", "billing@vendor.example", host=sendgrid), "billing@vendor.example"
        ),
        WebhookChannel(WebhookSender(webhook, WEBHOOK_SECRET)),
    ]
    ready.wait()
    try:
        scan = scan_reminders(engine, AS_OF, NOW, False, version_id, ("email", "webhook"))
        report = deliver_all(engine, senders, lambda: NOW, batch=7)
        results.put((scan.new, len(report.sent), len(report.failed)))
    except Exception as error:  # reported to the test, which fails on it
        results.put(("error", repr(error), 0))


def test_two_scans_at_once_in_two_processes_deliver_each_notification_once_per_channel(
    engine, sendgrid_server, webhook_receiver
):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: two processes do not race")
    with engine.begin() as connection:
        save_catalog(connection, _catalog(), "test", datetime(2026, 3, 1, tzinfo=UTC))
    context = multiprocessing.get_context("spawn")
    ready, results = context.Barrier(2), context.Queue()
    url = engine.url.render_as_string(hide_password=False)
    workers = [
        context.Process(
            target=_scan_and_deliver, args=(url, sendgrid_server.url, webhook_receiver.url, ready, results)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=180) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert all(failed == 0 for *_, failed in outcomes), outcomes
    assert sum(new for new, *_ in outcomes) == len(CUSTOMERS)  # each queued by one scan only
    assert sum(sent for _, sent, _ in outcomes) == 2 * len(CUSTOMERS)
    keys = {f"trial_ending/{cid}/contract/2026-03-01/2026-03-15/3d" for cid in CUSTOMERS}
    emailed = Counter(r.json()["custom_args"]["billing_key"] for r in sendgrid_server.requests)  # type: ignore[index]
    hooked = Counter(webhook_receiver.ids())
    assert set(emailed) == set(hooked) == keys
    assert set(emailed.values()) == set(hooked.values()) == {1}  # once per channel, at the receiver
    assert all(r.ok for r in webhook_receiver.requests)


def _deliver_webhooks(url: str, webhook: str) -> None:
    from billing.store.database import create_engine

    deliver_all(
        create_engine(url), [WebhookChannel(WebhookSender(webhook, WEBHOOK_SECRET, timeout=120))], lambda: NOW
    )


def test_a_process_killed_mid_send_causes_one_repeat_with_the_same_key(engine, webhook_receiver):
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_reminder()], NOW, ("webhook",))
    webhook_receiver.hold = threading.Event()  # the receiver holds the request: the send is under way
    context = multiprocessing.get_context("spawn")
    url = engine.url.render_as_string(hide_password=False)
    sender = context.Process(target=_deliver_webhooks, args=(url, webhook_receiver.url))
    sender.start()
    try:
        assert webhook_receiver.arrived.wait(timeout=120), "the sending process never sent"
    finally:
        os.kill(sender.pid, signal.SIGKILL)  # type: ignore[arg-type]
        sender.join(timeout=30)
        webhook_receiver.hold.set()
    assert sender.exitcode == -signal.SIGKILL
    hook = WebhookChannel(WebhookSender(webhook_receiver.url, WEBHOOK_SECRET))
    # its claim holds until it is stale: a run before then sends nothing
    assert deliver_all(engine, [hook], lambda: NOW + timedelta(minutes=1)).sent == []
    later = NOW + send_ledger.STALE_CLAIM + timedelta(seconds=1)
    assert len(deliver_all(engine, [hook], lambda: later).sent) == 1
    assert deliver_all(engine, [hook], lambda: later + timedelta(days=1)).sent == []
    assert webhook_receiver.ids() == [KEY, KEY]  # one repeat, the same webhook-id: the receiver drops it
    with engine.connect() as connection:
        status, attempts = connection.execute(
            sa.select(NotificationDelivery.status, NotificationDelivery.attempts)
        ).one()
    assert (status, attempts) == ("sent", 2)
