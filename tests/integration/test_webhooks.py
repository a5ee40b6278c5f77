"""Signed webhooks and retries through the send ledger, against local receivers.

Each request the receiver gets is verified with `standardwebhooks` as a real receiver would; a
failed delivery waits its backoff, is retried by a later run and is given up after its last try
or at once when the receiver refuses the message itself.
"""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from billing.core.delivery_retry import MAX_ATTEMPTS, retry_delay
from billing.core.lifecycle import Reminder
from billing.notify.backends import DeliveryError
from billing.notify.sendgrid_mail import SendGridBackend
from billing.notify.webhooks import WebhookEvent, WebhookSender
from billing.services.email_delivery import EmailChannel
from billing.services.notification_delivery import Delivery, deliver_all, deliver_pending
from billing.services.webhook_delivery import WebhookChannel
from billing.store import send_ledger
from billing.store.models import Notification, NotificationDelivery
from tests.fake_sendgrid import FakeSendGrid
from tests.fake_webhook import WEBHOOK_SECRET, FakeWebhookReceiver

NOW = datetime(2026, 3, 12, 9, tzinfo=UTC)
KEY = "trial_ending/acme/contract/2026-03-01/2026-03-15"
BOTH = ("email", "webhook")


def _reminder(customer: str = "acme") -> Reminder:
    context = {
        "customer_id": customer,
        "customer_name": "Acme Inc",
        "currency": "USD",
        "plan_name": "Pro",
        "trial_ends_on": "2026-03-15",
        "days_left": 3,
        "recurring_fee": "30.00",
        "minimum_commitment": None,
    }
    return Reminder(
        customer, "trial_ending", "contract/2026-03-01", "2026-03-15", f"{customer}@x.example", context
    )


def _enqueue(engine: sa.Engine, reminders: list[Reminder], channels=BOTH) -> None:
    with engine.begin() as connection:
        send_ledger.enqueue(connection, reminders, NOW, channels)


def _hook(receiver: FakeWebhookReceiver) -> WebhookChannel:
    return WebhookChannel(WebhookSender(receiver.url, WEBHOOK_SECRET, timeout=5))


def _delivery(engine: sa.Engine, channel: str = "webhook") -> NotificationDelivery:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(NotificationDelivery).where(NotificationDelivery.channel == channel)
        ).one()
    return row  # type: ignore[return-value]


def _status(engine: sa.Engine) -> str:
    with engine.connect() as connection:
        return connection.scalar(sa.select(Notification.status))  # type: ignore[return-value]


def test_a_receiver_verifies_the_signed_event_with_standardwebhooks(engine, webhook_receiver):
    _enqueue(engine, [_reminder()])
    before = datetime.now(UTC).replace(microsecond=0)
    report = deliver_pending(engine, [_hook(webhook_receiver)], NOW)
    assert report.sent == [Delivery(KEY, "webhook")]
    (request,) = webhook_receiver.requests
    assert request.ok, request.verified  # Webhook(secret).verify(body, headers) passed
    assert request.id == KEY  # the ledger key: the receiver's idempotency key
    assert before.timestamp() <= int(request.headers["webhook-timestamp"]) <= datetime.now(UTC).timestamp()
    assert request.headers["webhook-signature"].startswith("v1,")
    assert request.json() == {
        "type": "trial_ending",
        "timestamp": NOW.isoformat(),  # when the ledger decided it
        "data": {**_reminder().context, "customer_id": "acme"},
    }
    delivery = _delivery(engine)
    assert (delivery.status, delivery.attempts, delivery.message_id) == ("sent", 1, KEY)
    assert _status(engine) == "pending"  # its email is still to go


def test_a_wrong_secret_fails_verification(webhook_receiver):
    other = "whsec_" + base64.b64encode(b"an-entirely-different-32-byte-k!").decode()
    webhook_receiver.secret = other
    sender = WebhookSender(webhook_receiver.url, WEBHOOK_SECRET)
    sender.send(WebhookEvent(KEY, "trial_ending", NOW, {"customer_id": "acme"}))
    (request,) = webhook_receiver.requests
    assert isinstance(request.verified, WebhookVerificationError)
    body, headers = request.body, request.headers
    Webhook(WEBHOOK_SECRET).verify(body, headers)  # the right one passes
    tampered = body.replace(b"acme", b"acmf")
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(tampered, headers)


def test_500_three_times_then_200_is_delivered_on_the_fourth_try_after_its_backoff(engine, webhook_receiver):
    webhook_receiver.statuses = [500, 500, 500]
    _enqueue(engine, [_reminder()], channels=("webhook",))
    hook = _hook(webhook_receiver)
    now = NOW
    for attempt in (1, 2, 3):
        report = deliver_pending(engine, [hook], now)
        assert list(report.failed.values()) == [
            f"webhook {KEY!r} to http://127.0.0.1:{urlsplit(webhook_receiver.url).port}: "
            'the receiver answered HTTP 500 Internal Server Error: {"error": "try later"}'
        ]
        assert report.gave_up == set()
        delivery = _delivery(engine)
        assert (delivery.status, delivery.attempts) == ("pending", attempt)
        assert delivery.next_attempt_at == now + retry_delay(attempt)  # 1, 2, 4 minutes
        # backoff: an immediate re-run, and one a second before it ends, leave it alone
        assert deliver_pending(engine, [hook], now).failed == {}
        assert deliver_pending(engine, [hook], delivery.next_attempt_at - timedelta(seconds=1)).sent == []
        assert len(webhook_receiver.requests) == attempt
        now = delivery.next_attempt_at  # a clock at its end: claimed
    assert deliver_pending(engine, [hook], now).sent == [Delivery(KEY, "webhook")]
    delivery = _delivery(engine)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 4, None)
    assert _status(engine) == "sent"  # its only channel delivered
    assert len(set(webhook_receiver.ids())) == 1 and len(webhook_receiver.requests) == 4


def test_the_last_try_allowed_fails_for_good_and_is_never_tried_again(engine, webhook_receiver):
    webhook_receiver.status = 503
    _enqueue(engine, [_reminder()], channels=("webhook",))
    hook = _hook(webhook_receiver)
    clock = NOW
    for _ in range(MAX_ATTEMPTS):
        report = deliver_all(engine, [hook], lambda: clock)
        clock += timedelta(hours=2)  # past any backoff
    assert report.gave_up == {Delivery(KEY, "webhook")}
    assert report.failure_lines() == [
        f"failed for good: {KEY} by webhook: {report.failed[Delivery(KEY, 'webhook')]}"
    ]
    delivery = _delivery(engine)
    assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
    assert "HTTP 503" in (delivery.last_error or "")  # the history shows why
    assert _status(engine) == "failed"
    assert deliver_all(engine, [hook], lambda: clock + timedelta(days=30)).failed == {}
    assert len(webhook_receiver.requests) == MAX_ATTEMPTS


def test_410_is_refused_for_good_at_once(engine, webhook_receiver):
    webhook_receiver.status = 410
    _enqueue(engine, [_reminder()])
    report = deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW)
    (error,) = report.failed.values()
    assert "refused with HTTP 410 Gone" in error and WEBHOOK_SECRET not in error
    assert report.gave_up == {Delivery(KEY, "webhook")}
    delivery = _delivery(engine)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert _status(engine) == "pending"  # the email is still to go: failed once it has settled
    deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW + timedelta(days=1))
    assert len(webhook_receiver.requests) == 1


def test_a_receiver_that_cannot_be_reached_is_retried():
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    sender = WebhookSender(
        f"http://user:token@127.0.0.1:{port}/hook?token=t0ps3cret", WEBHOOK_SECRET, timeout=2
    )
    with pytest.raises(DeliveryError) as raised:
        sender.send(WebhookEvent(KEY, "trial_ending", NOW, {"customer_id": "acme"}))
    assert raised.value.retryable and raised.value.status is None
    message = str(raised.value)
    assert message.startswith(f"webhook {KEY!r} to http://127.0.0.1:{port}: cannot reach the receiver")
    assert "t0ps3cret" not in message and "token" not in message and "\n" not in message


def test_sendgrid_answering_500_then_202_sends_once_on_the_second_try(engine, sendgrid_server: FakeSendGrid):
    _enqueue(engine, [_reminder()], channels=("email",))
    email = EmailChannel(
        SendGridBackend("SG.test-key.secret", "billing@vendor.example", host=sendgrid_server.url),
        "billing@vendor.example",
    )
    sendgrid_server.status = 500
    first = deliver_all(engine, [email], lambda: NOW)
    assert first.gave_up == set() and len(first.failed) == 1
    sendgrid_server.status = 202
    assert deliver_all(engine, [email], lambda: NOW).sent == []  # its backoff is not over
    again = deliver_all(engine, [email], lambda: NOW + retry_delay(1))
    assert again.sent == [Delivery(KEY, "email")]
    delivery = _delivery(engine, "email")
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert len(sendgrid_server.requests) == 2  # one refused, one sent
    assert {r.json()["custom_args"]["billing_key"] for r in sendgrid_server.requests} == {KEY}  # type: ignore[index]


def test_sendgrid_refusing_the_message_fails_it_at_once(engine, sendgrid_server: FakeSendGrid):
    _enqueue(engine, [_reminder()], channels=("email",))
    sendgrid_server.status = 400
    email = EmailChannel(
        SendGridBackend("SG.test-key.secret", "billing@vendor.example", host=sendgrid_server.url),
        "billing@vendor.example",
    )
    report = deliver_all(engine, [email], lambda: NOW)
    assert report.gave_up == {Delivery(KEY, "email")}
    assert _status(engine) == "failed"


def test_a_receiver_asking_to_wait_with_retry_after_is_left_alone_until_then(engine, webhook_receiver):
    """429 with `Retry-After: 600`: not tried again at the first backoff (1 minute), which would
    only burn one of its tries, but once the ten minutes are over; sent once."""
    _enqueue(engine, [_reminder()], channels=("webhook",))
    webhook_receiver.statuses, webhook_receiver.retry_after = [429], "600"
    throttled = deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW)
    assert list(throttled.failed) == [Delivery(KEY, "webhook")] and not throttled.gave_up
    assert _delivery(engine).next_attempt_at == NOW + timedelta(minutes=10)
    assert deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW + timedelta(minutes=9)).sent == []
    later = NOW + timedelta(minutes=10)
    assert deliver_all(engine, [_hook(webhook_receiver)], lambda: later).sent == [Delivery(KEY, "webhook")]
    assert webhook_receiver.ids() == [KEY, KEY] and _status(engine) == "sent"


def test_sendgrid_answering_429_with_retry_after_waits_as_long_as_it_asks(
    engine, sendgrid_server: FakeSendGrid
):
    _enqueue(engine, [_reminder()], channels=("email",))
    sendgrid_server.status, sendgrid_server.headers = 429, {"Retry-After": "300"}
    email = EmailChannel(
        SendGridBackend("SG.test-key.secret", "billing@vendor.example", host=sendgrid_server.url),
        "billing@vendor.example",
    )
    assert list(deliver_all(engine, [email], lambda: NOW).failed) == [Delivery(KEY, "email")]
    assert _delivery(engine, "email").next_attempt_at == NOW + timedelta(minutes=5)
    sendgrid_server.status, sendgrid_server.headers = 202, {}
    assert deliver_all(engine, [email], lambda: NOW + timedelta(minutes=4)).sent == []
    assert deliver_all(engine, [email], lambda: NOW + timedelta(minutes=5)).sent == [Delivery(KEY, "email")]
    assert len(sendgrid_server.requests) == 2


def test_a_receiver_asking_to_slow_down_stops_its_channel_for_the_run(engine, webhook_receiver):
    """The first of three deliveries gets 429: the other two are given back untried, their
    tries not spent on the same refusal, and all three go once the receiver's wait is over."""
    from billing.cli.commands.pipeline import delivered

    _enqueue(engine, [_reminder(c) for c in ("acme", "bolt", "cyan")], channels=("webhook",))
    webhook_receiver.statuses, webhook_receiver.retry_after = [429], "600"
    throttled = deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW)
    until = NOW + timedelta(minutes=10)
    assert len(throttled.failed) == 1 and throttled.sent == [] and len(webhook_receiver.requests) == 1
    assert throttled.held_back == {"webhook": (2, until)}
    assert throttled.counts("webhook") == {"sent": 0, "failed": 1, "failed_for_good": 0, "held_back": 2}
    assert delivered({"emails": throttled.counts("email"), "webhooks": throttled.counts("webhook")}) == (
        "emails sent 0, webhooks sent 0, 1 failed (kept and retried by the next run),"
        " 2 held back untried (the receiver asked to slow down)"
    )
    assert f"not sent: 2 webhook deliveries wait untried until {until.isoformat()}" in "\n".join(
        throttled.failure_lines()
    )
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                NotificationDelivery.attempts,
                NotificationDelivery.status,
                NotificationDelivery.next_attempt_at,
            )
        ).all()
    assert sorted(rows) == [(0, "pending", until), (0, "pending", until), (1, "pending", until)]
    assert deliver_all(engine, [_hook(webhook_receiver)], lambda: until - timedelta(seconds=1)).sent == []
    later = deliver_all(engine, [_hook(webhook_receiver)], lambda: until)
    assert len(later.sent) == 3 and not later.failed and not later.held_back
    assert len(webhook_receiver.requests) == 4  # one refused, then each sent once


def test_a_run_summary_says_which_failures_are_retried_and_which_are_given_up(engine, webhook_receiver):
    from billing.cli.commands.pipeline import delivered

    _enqueue(engine, [_reminder("acme"), _reminder("bolt")], channels=("webhook",))
    webhook_receiver.statuses = [500, 410]  # one may pass later, one is refused for good
    report = deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW)
    counts = report.counts("webhook")
    assert counts == {"sent": 0, "failed": 2, "failed_for_good": 1, "held_back": 0}
    line = delivered({"emails": report.counts("email"), "webhooks": counts})
    assert line == (
        "emails sent 0, webhooks sent 0, 1 failed (kept and retried by the next run),"
        " 1 failed for good (never tried again)"
    )


def test_an_issued_invoice_goes_by_webhook_with_its_document_before_its_pdf_is_printed(
    engine, webhook_receiver
):
    from billing.services.invoice_run import invoice_customers
    from tests.integration.test_invoice_emails import AS_OF, _load

    report = invoice_customers(
        engine, _load(engine), ["acme"], AS_OF, grace=timedelta(hours=24), due_days=30, now=NOW, channels=BOTH
    )
    (number,) = [o.number for o in report.finalized]
    sent = deliver_all(engine, [_hook(webhook_receiver)], lambda: NOW)
    key = f"invoice_issued/acme/{number}/2026-03-01"
    assert sent.sent == [Delivery(key, "webhook")]  # the email waits for the PDF; the webhook needs none
    (request,) = webhook_receiver.requests
    assert request.ok and request.id == key
    body = request.json()
    assert body["type"] == "invoice_issued" and body["data"]["customer_id"] == "acme"
    assert body["data"]["invoice"]["number"] == number and body["data"]["invoice"]["total"] == "10.00"


def test_a_spend_alert_is_queued_for_the_webhook_as_well(engine, event_suite):
    from billing.services.spend_alerts import evaluate_spend
    from tests.integration.test_spend_alerts import ingest, setup

    stored = setup(engine)
    day_ten = datetime(2026, 3, 11, tzinfo=UTC)
    ingest(engine, event_suite, stored, "a", 330, day_ten - timedelta(hours=1))  # on course past 1000.00
    assert evaluate_spend(engine, stored.catalog, ["acme"], day_ten, day_ten, channels=BOTH).new == 1
    with engine.connect() as connection:
        channels = connection.scalars(sa.select(NotificationDelivery.channel)).all()
    assert sorted(channels) == ["email", "webhook"]


def test_deliveries_waiting_on_a_channel_no_longer_configured_are_said_to_wait(engine, sendgrid_server):
    """Queued for the webhook, then the webhook is removed: the email goes, and the run says
    the webhook delivery waits (instead of leaving it pending in silence)."""
    _enqueue(engine, [_reminder()], channels=BOTH)
    email = EmailChannel(
        SendGridBackend("SG.test-key.secret", "billing@vendor.example", host=sendgrid_server.url),
        "billing@vendor.example",
    )
    report = deliver_all(engine, [email], lambda: NOW)
    assert report.sent == [Delivery(KEY, "email")] and report.stranded == {"webhook": 1}
    assert report.failure_lines() == [
        "not sent: 1 webhook delivery waits while no webhook sender is configured; they go out once one is"
    ]
    assert _status(engine) == "pending"  # the ledger says so too: not every channel delivered
