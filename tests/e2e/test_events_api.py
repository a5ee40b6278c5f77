"""`POST /v1/events` through FastAPI's TestClient, on SQLite and PostgreSQL: the rules of files
(idempotent by transaction id, every bad event quarantined by index with its reason), the
limits, the keys, and bodies that are not what they should be."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.api import dependencies as deps
from billing.store.models import Event, QuarantinedEvent
from tests.e2e.conftest import client_for


def good(n: int, customer: str = "alpha", **changes) -> dict:
    event = {
        "transaction_id": f"http-{n}",
        "customer_id": customer,
        "event_type": "api_call",
        "timestamp": "2026-03-10T08:00:00Z",
        "properties": {"endpoint": "/v1/a"},
    }
    event.update(changes)
    return event


@pytest.fixture
def api(engine, event_suite):
    client = client_for(engine)
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    return client


def stored(engine) -> list[tuple[int, int]]:
    with engine.connect() as connection:
        return [
            connection.scalar(sa.select(sa.func.count()).select_from(table))
            for table in (Event, QuarantinedEvent)
        ]


def post(api, events, **kwargs):
    response = api.post("/v1/events", json={"events": events}, **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["received"] == body["accepted"] + body["duplicates"] + body["quarantined"]
    assert len(body["rejections"]) == body["quarantined"]
    return body


def test_the_same_batch_twice_is_stored_once(api, engine):
    batch = [good(n, customer) for n, customer in enumerate(["alpha", "bravo", "charlie"] * 10)]
    first = post(api, batch)
    assert (first["received"], first["accepted"], first["duplicates"]) == (30, 30, 0)
    again = post(api, batch)
    assert (again["received"], again["accepted"], again["duplicates"], again["quarantined"]) == (30, 0, 30, 0)
    assert stored(engine) == [30, 0]


def test_bad_events_are_answered_by_index_and_quarantined_while_good_ones_are_stored(api, engine):
    post(api, [good(100)])
    batch = [
        good(1),
        good(2, customer="nobody"),
        good(3, event_type="unheard_of"),
        {k: v for k, v in good(4).items() if k != "timestamp"},
        good(5, timestamp="2026-03-20T13:00:00Z"),  # an hour after the API's now
        "not an event",
        good(7, event_type="storage", properties={"gb": "lots", "region": "eu"}),
        good(100, properties={"endpoint": "/v1/other"}),  # stored before, other payload
        good(8),
        good(8),  # the same event twice in one batch: a duplicate
        good(9, timestamp="1999-12-31T23:59:59Z"),
        good(10, event_type="storage", properties={"gb": "12.5", "region": "eu"}),
    ]
    body = post(api, batch)
    reasons = {r["index"]: r["reason"] for r in body["rejections"]}
    assert reasons == {
        1: "unknown_customer",
        2: "unknown_event_type",
        3: "missing_field",
        4: "future_timestamp",
        5: "malformed_field",
        6: "invalid_property",
        7: "conflict",
        10: "timestamp_out_of_range",
    }
    assert [r["index"] for r in body["rejections"]] == sorted(reasons)  # in index order
    assert all(r["message"] for r in body["rejections"])
    assert "nobody" in next(r["message"] for r in body["rejections"] if r["index"] == 1)
    assert (body["accepted"], body["duplicates"], body["quarantined"]) == (3, 1, 8)
    assert stored(engine) == [1 + 3, 8]
    with engine.connect() as connection:
        sources = set(connection.scalars(sa.select(QuarantinedEvent.source)))
    assert len(sources) == 1 and next(iter(sources)).startswith("api:tests-")


def test_numbers_are_stored_exactly_as_their_json_text(api, engine):
    exact = "0.100000000000000000000000000001"  # 30 decimals: no float holds it
    event = good(1, event_type="storage", properties={"gb": "GB", "region": "eu"})
    text = json.dumps({"events": [event]}).replace('"GB"', exact)
    response = api.post("/v1/events", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text
    with engine.connect() as connection:
        properties = connection.scalar(sa.select(Event.properties))
    assert Decimal(str(properties["gb"])) == Decimal(exact)


def test_every_rejection_is_answered_not_only_the_first_ones(api):
    body = post(api, [good(n, customer="nobody") for n in range(1_000)])
    assert body["quarantined"] == 1_000
    assert [r["index"] for r in body["rejections"]] == list(range(1_000))


def test_more_than_a_thousand_events_is_refused_naming_the_limit(api, engine):
    response = api.post("/v1/events", json={"events": [good(n) for n in range(1_001)]})
    assert response.status_code == 422
    assert "1,000" in response.json()["error"]["message"]
    assert stored(engine) == [0, 0]


def test_a_body_over_one_mebibyte_is_413(api):
    events = [good(n, properties={"endpoint": "x" * 2_000}) for n in range(600)]
    response = api.post("/v1/events", content=json.dumps({"events": events}))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_no_key_or_a_wrong_key_is_401(api, engine):
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-a-key"}):
        response = api.post("/v1/events", json={"events": [good(1)]}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
    assert stored(engine) == [0, 0]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "words"),
    [
        (b"{not json", "application/json", 422, "not valid JSON"),
        (b"", "application/json", 422, "must be a JSON object"),
        (b"[1, 2]", "application/json", 422, "must be a JSON object"),
        (b'{"events": {"a": 1}}', "application/json", 422, "events must be a JSON array"),
        (b'{"event": []}', "application/json", 422, "unknown field 'event'"),
        (b"{}", "application/json", 422, "events must be a JSON array of events, got missing"),
        (b"\xff\xfe{}", "application/json", 422, "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422, "must be a JSON object"),
        (
            b'{"events": [], "x": ' + b'{"a": ' * 9_000 + b"1" + b"}" * 9_001,
            "application/json",
            422,
            "nests deeper",
        ),
        (b'{"events": []}', "text/csv", 415, "text/csv"),
        (b"[]", "application/cloudevents+json", 422, "one JSON object"),
        (b"{}", "application/cloudevents-batch+json", 422, "JSON array"),
    ],
)
def test_a_body_that_holds_no_batch_is_a_json_4xx(api, content, content_type, status, words):
    response = api.post("/v1/events", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]["message"]


def test_an_empty_batch_answers_zeros(api):
    assert post(api, []) == {
        "received": 0,
        "accepted": 0,
        "duplicates": 0,
        "quarantined": 0,
        "late": 0,
        "rejections": [],
    }


def test_nasty_events_are_quarantined_one_by_one(api, engine):
    deep: dict = {}
    inner = deep
    for _ in range(40):
        inner["a"] = {}
        inner = inner["a"]
    text = json.dumps(
        {
            "events": [
                good(0),
                good(1, customer="al\u0000pha"),
                good(2, properties={"note": "SURROGATE"}),
                good(3, properties=deep),
                good(4, event_type="llm", properties={"tokens": 1}),
                good(5, event_type="llm", properties={"tokens": 2}),
                good(6, transaction_id="t" * 300),
                good(7),
            ]
        }
    )
    text = text.replace('"SURROGATE"', '"\\ud800"').replace('"tokens": 1', '"tokens": 1e400')
    text = text.replace('"tokens": 2', '"tokens": ' + "9" * 5_000)
    response = api.post("/v1/events", content=text, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    body = response.json()
    rejected = {r["index"] for r in body["rejections"]}
    assert rejected == {1, 2, 3, 4, 5, 6}
    assert body["accepted"] == 2
    assert stored(engine) == [2, 6]


_EVENT = st.one_of(
    st.builds(
        good,
        st.integers(0, 20),
        st.sampled_from(["alpha", "bravo", "nobody"]),
        event_type=st.sampled_from(["api_call", "llm", "nope"]),
        timestamp=st.sampled_from(["2026-03-10T08:00:00Z", "2026-03-10", "2099-01-01T00:00:00Z"]),
    ),
    st.none(),
    st.integers(),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
)


@given(batch=st.lists(_EVENT, max_size=30))
@settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_event_is_accounted_for_by_index(api, batch):
    body = post(api, batch)
    assert body["received"] == len(batch)
    indexes = [r["index"] for r in body["rejections"]]
    assert len(set(indexes)) == len(indexes) and set(indexes) <= set(range(len(batch)))


_PAST_THE_PARSER = '{"x": ' + "[" * 5_000 + r'"a\"],{["' + "]" * 5_000 + "}"  # a string's brackets too
_BATCHES = {
    "application/json": ('{"events": [%s]}', lambda n: json.dumps(good(n))),
    "application/cloudevents-batch+json": ("[%s]", lambda n: json.dumps(cloud(n))),
}


def cloud(n: int) -> dict:
    event = good(n)
    return {
        "specversion": "1.0",
        "source": "//meter",
        "id": event["transaction_id"],
        "type": "api_call",
        "subject": "alpha",
        "time": event["timestamp"],
    }


@pytest.mark.parametrize("content_type", sorted(_BATCHES))
def test_an_event_nested_past_what_the_parser_follows_is_quarantined_alone(api, engine, content_type):
    shape, event = _BATCHES[content_type]
    deep = event(1)[:-1] + ', "data": ' + _PAST_THE_PARSER + "}"
    text = shape % ", ".join([event(0), deep, " 5 ", event(2)])
    response = api.post("/v1/events", content=text, headers={"Content-Type": content_type})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["received"], answer["accepted"]) == (4, 2)
    assert [(r["index"], r["reason"]) for r in answer["rejections"]] == [
        (1, "unreadable_row"),
        (2, "malformed_field"),
    ]
    assert answer["rejections"][0]["message"] == "the event is nested deeper than 32 levels"
    with engine.connect() as connection:
        payloads = connection.execute(sa.select(QuarantinedEvent.payload)).scalars().all()
    assert deep in payloads  # kept whole, as a file's line is


def test_one_cloudevent_nested_past_what_the_parser_follows_is_quarantined(api, engine):
    body = json.dumps(cloud(0))[:-1] + ', "data": ' + _PAST_THE_PARSER + "}"
    response = api.post("/v1/events", content=body, headers={"Content-Type": "application/cloudevents+json"})
    assert response.status_code == 200, response.text
    assert response.json()["rejections"][0]["message"] == "the event is nested deeper than 32 levels"
    assert stored(engine) == [0, 1]


def test_an_event_over_the_row_limit_is_quarantined_like_a_files_line(api, engine) -> None:
    base = {"customer_id": "alpha", "event_type": "api_call", "timestamp": "2026-03-10T00:00:00Z"}
    big = {**base, "transaction_id": "big", "properties": {"note": "x" * 70_000}}
    small = {**base, "transaction_id": "small", "properties": {"note": "x"}}
    answer = api.post("/v1/events", json={"events": [small, big]}).json()
    assert (answer["accepted"], answer["quarantined"]) == (1, 1)
    (rejection,) = answer["rejections"]
    assert (rejection["index"], rejection["reason"]) == (1, "unreadable_row")
    assert (
        rejection["message"].startswith("the row is 70,")
        and "over the limit of 65,536" in rejection["message"]
    )
    with engine.connect() as connection:
        (payload,) = connection.execute(sa.select(QuarantinedEvent.payload)).scalars()
    assert '"transaction_id":"big"' in payload and len(payload) > 70_000  # kept whole


def test_each_rejection_names_the_held_row_a_bad_event_sent_again_after_a_discard_is_held_anew(api, engine):
    from datetime import UTC, datetime

    from billing.services import quarantine as service
    from billing.store.quarantine import QuarantineFilter, find_quarantined

    def held() -> list[int]:
        with engine.connect() as connection:
            return [row.id for row in find_quarantined(connection, QuarantineFilter(), 10)]

    bad = good(1, "nobody")
    first = post(api, [bad, bad])
    (row,) = held()
    assert [r["quarantine_id"] for r in first["rejections"]] == [row, row]  # one row holds both
    assert [r["quarantine_id"] for r in post(api, [bad])["rejections"]] == [row]

    who = service.Operator("ops", None, datetime(2026, 3, 20, tzinfo=UTC))
    service.discard_rows(engine, service.selected_rows(engine, [row])[0], who)
    again = post(api, [bad])
    assert again["quarantined"] == 1
    (new_row,) = held()
    assert new_row != row and [r["quarantine_id"] for r in again["rejections"]] == [new_row]
