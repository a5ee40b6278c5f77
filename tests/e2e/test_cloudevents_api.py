"""CloudEvents into `POST /v1/events`, built and serialized by the `cloudevents` SDK from PyPI as
a real client would, single and batch, on SQLite and PostgreSQL.

The SDK (2.2) has no batch serializer: a batch is the JSON array of the events' structured
JSON, with `application/cloudevents-batch+json`, as the CloudEvents JSON format defines it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from cloudevents.v1.conversion import to_structured as legacy_to_structured
from cloudevents.v1.http import CloudEvent as LegacyCloudEvent

from billing.api import dependencies as deps
from billing.store.models import Event, QuarantinedEvent
from tests.e2e.conftest import client_for

BATCH = "application/cloudevents-batch+json"
MARCH_10 = datetime(2026, 3, 10, 8, tzinfo=UTC)


@pytest.fixture
def api(engine, event_suite):
    client = client_for(engine)
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    return client


def usage(n: int, subject: str | None = "bravo", kind: str = "llm", data=None) -> CloudEvent:
    attributes = {"id": f"ce-{n}", "source": "//meter/eu-1", "type": kind, "time": MARCH_10}
    if subject is not None:
        attributes["subject"] = subject
    return CloudEvent(attributes, {"tokens": 250, "model": "small"} if data is None else data)


def send_batch(api, events: list[CloudEvent]):
    body = b"[" + b",".join(JSONFormat().write(e) for e in events) + b"]"
    return api.post("/v1/events", content=body, headers={"Content-Type": f"{BATCH}; charset=utf-8"})


def stored_events(engine) -> list[tuple]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Event.transaction_id, Event.customer_id, Event.event_type, Event.timestamp).order_by(
                Event.transaction_id
            )
        )
        return [(t, c, e, ts.replace(tzinfo=ts.tzinfo or UTC)) for t, c, e, ts in rows]


def test_one_cloudevent_is_stored_as_its_usage_event(api, engine):
    message = to_structured_event(usage(1))
    response = api.post("/v1/events", content=message.body, headers=message.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "received": 1,
        "accepted": 1,
        "duplicates": 0,
        "quarantined": 0,
        "late": 0,
        "rejections": [],
    }
    assert stored_events(engine) == [("ce-1", "bravo", "llm", MARCH_10)]
    with engine.connect() as connection:
        properties = connection.scalar(sa.select(Event.properties))
    assert properties == {"tokens": 250, "model": "small"}
    again = api.post("/v1/events", content=message.body, headers=message.headers)
    assert again.json()["duplicates"] == 1 and len(stored_events(engine)) == 1


def test_the_legacy_sdk_api_is_read_the_same(api, engine):
    event = LegacyCloudEvent(
        {
            "id": "ce-legacy",
            "source": "/svc",
            "type": "api_call",
            "subject": "alpha",
            "time": "2026-03-10T08:00:00Z",
        },
        {"endpoint": "/v1/a"},
    )
    headers, body = legacy_to_structured(event)
    response = api.post("/v1/events", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    assert stored_events(engine) == [("ce-legacy", "alpha", "api_call", MARCH_10)]


def test_a_batch_answers_each_bad_event_by_index(api, engine):
    events = [
        usage(0),
        usage(1, subject=None),  # no customer: missing_field, the others still stored
        usage(2, subject="nobody"),
        usage(3, kind="unheard_of"),
        usage(4, data={"tokens": "many"}),
        usage(5, subject="charlie"),
    ]
    response = send_batch(api, events)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["received"], body["accepted"], body["quarantined"]) == (6, 2, 4)
    reasons = {r["index"]: (r["reason"], r["message"]) for r in body["rejections"]}
    assert {i: reason for i, (reason, _) in reasons.items()} == {
        1: "missing_field",
        2: "unknown_customer",
        3: "unknown_event_type",
        4: "invalid_property",
    }
    assert reasons[1][1].startswith("subject (customer_id)")  # in the sender's own terms
    assert [t for t, *_ in stored_events(engine)] == ["ce-0", "ce-5"]
    again = send_batch(api, events).json()
    assert (again["accepted"], again["duplicates"], again["quarantined"]) == (0, 2, 4)
    assert len(stored_events(engine)) == 2


def test_envelopes_that_are_not_cloudevents_1_0_are_quarantined_by_index(api, engine):
    good = json.loads(JSONFormat().write(usage(0)))
    old = {**good, "id": "ce-old", "specversion": "0.3"}
    sourceless = {k: v for k, v in good.items() if k != "source"} | {"id": "ce-nosource"}
    nameless = {k: v for k, v in good.items() if k != "id"}
    body = json.dumps([good, old, sourceless, nameless, 7])
    response = api.post("/v1/events", content=body, headers={"Content-Type": BATCH})
    assert response.status_code == 200, response.text
    rejections = {r["index"]: r for r in response.json()["rejections"]}
    assert sorted(rejections) == [1, 2, 3, 4]
    assert "specversion" in rejections[1]["message"]
    assert "source" in rejections[2]["message"]
    assert rejections[3]["reason"] == "missing_field" and rejections[3]["message"].startswith("id ")
    assert rejections[4]["reason"] == "malformed_field"
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(QuarantinedEvent)) == 4
        held = dict(
            connection.execute(sa.select(QuarantinedEvent.transaction_id, QuarantinedEvent.customer_id)).all()
        )
    assert held["ce-old"] == held["ce-nosource"] == good["subject"]  # found by `quarantine list --customer`
    assert [t for t, *_ in stored_events(engine)] == ["ce-0"]


def test_a_cloudevents_batch_over_the_limit_is_refused(api):
    body = json.dumps([json.loads(JSONFormat().write(usage(n))) for n in range(1_001)])
    response = api.post("/v1/events", content=body, headers={"Content-Type": BATCH})
    assert response.status_code == 422 and "1,000" in response.json()["error"]["message"]


def test_messages_name_every_attribute_and_quote_values_as_sent(api):
    good = json.loads(JSONFormat().write(usage(0)))
    nameless = {k: v for k, v in good.items() if k not in ("id", "subject")}  # two fields missing
    odd_subject = {**good, "id": "ce-odd", "subject": "timestamp"}  # a value that is a field's name
    body = json.dumps([nameless, odd_subject])
    response = api.post("/v1/events", content=body, headers={"Content-Type": BATCH})
    assert response.status_code == 200, response.text
    messages = [r["message"] for r in response.json()["rejections"]]
    assert messages == [
        "id (transaction_id) is missing; subject (customer_id) is missing",
        "customer 'timestamp' is not in the catalog",
    ]


def test_a_specversion_sent_as_a_number_is_named_a_number(api):
    """`"specversion": 1.0` was refused as `got '1.0'`: the very value the message asks for."""
    good = json.loads(JSONFormat().write(usage(0)))
    events = [{**good, "id": "n", "specversion": 1.0}, {**good, "id": "b", "specversion": True}]
    response = api.post("/v1/events", content=json.dumps(events), headers={"Content-Type": BATCH})
    messages = [r["message"] for r in response.json()["rejections"]]
    assert messages == [
        'specversion must be the string "1.0" (CloudEvents 1.0), got the JSON number 1.0',
        'specversion must be the string "1.0" (CloudEvents 1.0), got the JSON boolean true',
    ]
