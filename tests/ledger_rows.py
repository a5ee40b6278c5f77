"""Notifications written into the send ledger the way the scan and the senders write them:
`enqueue`, `record_skipped`, `claim`, `mark_sent`, `mark_failed`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from billing.core.lifecycle import Reminder
from billing.store import send_ledger

RECORDED = datetime(2026, 3, 12, 9, 30, tzinfo=UTC)


def reminder(customer: str, kind: str, period: str, on: date | None = None) -> Reminder:
    context = {"customer_id": customer, "customer_name": customer.title(), "currency": "USD"}
    return Reminder(customer, kind, f"contract/{period[:7]}-01", period, f"{customer}@x.example", context, on)


def bravo_history(connection: sa.Connection) -> dict[str, int]:
    """bravo's four notifications, oldest first, and one of alpha's; their ids by name.

    - trial_ending: email and webhook, both sent;
    - renewal_upcoming: email sent, webhook failed once (pending, retried later);
    - contract_ending: skipped (the scan came after the contract ended);
    - spend_threshold: email given up (failed for good).
    alpha's email is claimed and left sending."""
    on = date(2026, 3, 12)
    send_ledger.enqueue(
        connection, [reminder("bravo", "trial_ending", "2026-03-15", on)], RECORDED, ("email", "webhook")
    )
    send_ledger.enqueue(
        connection,
        [reminder("bravo", "renewal_upcoming", "2027-01-15/30d", on)],
        RECORDED,
        ("email", "webhook"),
    )
    send_ledger.record_skipped(
        connection,
        [reminder("bravo", "contract_ending", "2026-03-01/30d", on)],
        RECORDED,
        "contract ended on 2026-02-28, before this scan",
    )
    send_ledger.enqueue(connection, [reminder("bravo", "spend_threshold", "2026-03-01", on)], RECORDED)
    send_ledger.enqueue(connection, [reminder("alpha", "trial_ending", "2026-03-20", on)], RECORDED)
    sent = RECORDED + timedelta(minutes=1)
    for channel in ("email", "webhook"):
        for claimed in send_ledger.claim(connection, sent, channel=channel):
            if claimed.customer_id != "bravo":
                continue
            if claimed.kind == "trial_ending" or (claimed.kind, channel) == ("renewal_upcoming", "email"):
                send_ledger.mark_sent(connection, claimed.delivery_id, f"msg-{claimed.delivery_id}", sent)
            elif claimed.kind == "renewal_upcoming":
                send_ledger.mark_failed(
                    connection,
                    claimed.delivery_id,
                    "HTTP 503 from receiver",
                    retry_at=sent + timedelta(minutes=5),
                )
            else:
                send_ledger.mark_failed(
                    connection, claimed.delivery_id, "SendGrid 400: bad address", final=True
                )
    ids = connection.execute(
        sa.text("SELECT kind, id FROM notifications WHERE customer_id = 'bravo' ORDER BY id")
    ).all()
    return {kind: i for kind, i in ids}
