"""`GET /v1/customers/{id}/notifications` through FastAPI's TestClient, on SQLite and
PostgreSQL: a customer's history newest first, each channel's delivery, filters, keyset pages
and JSON errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from billing.core.lifecycle import Reminder
from billing.store import send_ledger
from tests.e2e.conftest import client_for
from tests.ledger_rows import RECORDED, bravo_history, reminder


@pytest.fixture
def api(engine) -> tuple[TestClient, dict[str, int]]:
    client = client_for(engine)
    with engine.begin() as connection:
        ids = bravo_history(connection)
    return client, ids


def test_a_customers_history_newest_first_with_each_channels_delivery(api) -> None:
    client, ids = api
    answer = client.get("/v1/customers/bravo/notifications")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["customer_id"] == "bravo" and body["next_before"] is None
    found = body["notifications"]
    assert [n["kind"] for n in found] == [
        "spend_threshold",
        "contract_ending",
        "renewal_upcoming",
        "trial_ending",
    ]
    assert [n["id"] for n in found] == sorted(ids.values(), reverse=True)
    by_kind = {n["kind"]: n for n in found}

    trial = by_kind["trial_ending"]
    assert trial["key"] == "trial_ending/bravo/contract/2026-03-01/2026-03-15"
    assert (trial["status"], trial["due_on"], trial["reason"]) == ("sent", "2026-03-12", None)
    assert trial["created_at"] == "2026-03-12T05:30:00-04:00"  # bravo lives in New York
    assert trial["context"]["customer_name"] == "Bravo"
    assert [(d["channel"], d["status"], d["attempts"]) for d in trial["deliveries"]] == [
        ("email", "sent", 1),
        ("webhook", "sent", 1),
    ]
    assert trial["deliveries"][0]["sent_at"] == "2026-03-12T05:31:00-04:00"

    renewal = by_kind["renewal_upcoming"]
    assert renewal["status"] == "pending"
    webhook = renewal["deliveries"][1]
    assert (webhook["channel"], webhook["status"], webhook["attempts"]) == ("webhook", "pending", 1)
    assert webhook["last_error"] == "HTTP 503 from receiver"
    assert webhook["next_attempt_at"] == "2026-03-12T05:36:00-04:00"

    skipped = by_kind["contract_ending"]
    assert (skipped["status"], skipped["deliveries"]) == ("skipped", [])
    assert skipped["reason"] == "contract ended on 2026-02-28, before this scan"

    failed = by_kind["spend_threshold"]
    assert failed["status"] == "failed"
    assert [(d["status"], d["last_error"]) for d in failed["deliveries"]] == [
        ("failed", "SendGrid 400: bad address")
    ]


def test_filters_by_kind_and_status(api) -> None:
    client, _ = api
    pending = client.get("/v1/customers/bravo/notifications", params={"status": "pending"}).json()
    assert [n["kind"] for n in pending["notifications"]] == ["renewal_upcoming"]
    trials = client.get("/v1/customers/bravo/notifications", params={"kind": "trial_ending"}).json()
    assert [n["key"] for n in trials["notifications"]] == [
        "trial_ending/bravo/contract/2026-03-01/2026-03-15"
    ]
    both = client.get(
        "/v1/customers/bravo/notifications", params={"kind": "trial_ending", "status": "skipped"}
    )
    assert both.json()["notifications"] == []
    alpha = client.get("/v1/customers/alpha/notifications").json()["notifications"]
    assert [(n["customer_id"], n["deliveries"][0]["status"]) for n in alpha] == [("alpha", "sending")]


def test_a_known_customer_without_notifications_has_an_empty_history(api) -> None:
    client, _ = api
    answer = client.get("/v1/customers/charlie/notifications")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"customer_id": "charlie", "notifications": [], "next_before": None}


def test_pages_are_stable_while_new_notifications_arrive(engine) -> None:
    client = client_for(engine)
    days = [f"2026-03-{d:02d}" for d in range(1, 26)]
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_spend(day) for day in days], RECORDED)
    seen: list[str] = []
    before = None
    pages = 0
    for _ in range(10):  # a pager that never ends fails rather than hangs
        params = {"limit": 10, **({"before": before} if before else {})}
        answer = client.get("/v1/customers/bravo/notifications", params=params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen += [n["period"] for n in body["notifications"]]
        pages += 1
        if pages == 1:  # a new one recorded between two pages: on no later page
            with engine.begin() as connection:
                send_ledger.enqueue(connection, [_spend("2026-04-01")], RECORDED)
        before = body["next_before"]
        if before is None:
            break
    assert (pages, before) == (3, None)
    assert seen == sorted(days, reverse=True)  # each once, newest first, none lost
    first = client.get("/v1/customers/bravo/notifications", params={"limit": 1}).json()
    assert [n["period"] for n in first["notifications"]] == ["2026-04-01"]
    beyond = client.get("/v1/customers/bravo/notifications", params={"limit": 1, "before": 2**40}).json()
    assert beyond == first  # a `before` past any id bounds nothing (ids are 32-bit)


def _spend(day: str) -> Reminder:
    return reminder("bravo", "spend_threshold", day)


def test_an_unknown_customer_is_404(api) -> None:
    client, _ = api
    answer = client.get("/v1/customers/zulu/notifications")
    assert answer.status_code == 404
    assert answer.json()["error"] == {"code": "unknown_customer", "message": "unknown customer 'zulu'"}


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"kind": "birthday"}, "kind"),
        ({"status": "lost"}, "status"),
        ({"before": -1}, "before"),
    ],
)
def test_a_bad_query_is_a_json_422_naming_the_parameter(api, params, where) -> None:
    client, _ = api
    answer = client.get("/v1/customers/bravo/notifications", params=params)
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_request" and f"query.{where}" in error["message"]


def test_an_api_key_is_required(api) -> None:
    client, _ = api
    answer = client.get("/v1/customers/bravo/notifications", headers={"Authorization": ""})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
