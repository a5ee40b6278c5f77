"""Every bad request body gets a JSON 4xx naming what is wrong, never a 500: through FastAPI's
TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest

from billing.api.request_body import MAX_BODY_BYTES

PATH = "/v1/customers/bravo/preview"
JSON = {"Content-Type": "application/json"}


def _events(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def _call(event: dict) -> bytes:
    return _events({"event_type": "api_call", **event})


def _nested(depth: int) -> bytes:
    properties = b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"events": [{"event_type": "api_call", "properties": ' + properties + b"}]}"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(
            _call({"transaction_id": "a\x00b"}), "NUL character at events[0].transaction_id", id="nul"
        ),
        pytest.param(
            b'{"events": [{"event_type": "api_call", "properties": {"k\\u0000": 1}}]}',
            "NUL character in a key at events[0].properties",
            id="escaped-nul-key",
        ),
        pytest.param(
            b'{"events": [{"event_type": "api_call", "transaction_id": "api\\ud800"}]}',
            "lone surrogate",
            id="lone-surrogate",
        ),
        pytest.param(_nested(100_000), "nests deeper than 32", id="nested-100000"),
        pytest.param(_nested(40), "nests deeper than 32 levels at events[0].properties.a", id="nested-40"),
        pytest.param(b'\xff\xfe{"events": []}', "not UTF-8: byte 0xff at position 0", id="not-utf8"),
        pytest.param(b'{"events": [}', "not valid JSON", id="broken-json"),
        pytest.param(b'{"events": [], "mode": NaN}', "not valid JSON", id="nan"),
        pytest.param(b"[1, 2]", "body:", id="not-an-object"),
        pytest.param(b"", "body:", id="empty"),
        pytest.param(b'{"events": {"a": 1}}', "events:", id="events-not-a-list"),
        pytest.param(b'{"events": [1]}', "events[0]:", id="event-not-an-object"),
        pytest.param(b'{"events": [], "mode": 5}', "mode:", id="mode-not-a-string"),
        # a misspelt key is not left out: the preview would price another hypothesis
        pytest.param(
            b'{"event": [{"event_type": "api_call"}]}',
            "unknown field 'event' in the body",
            id="misspelt-events",
        ),
        pytest.param(
            b'{"events": [], "mod": "replace"}', "unknown field 'mod' in the body", id="misspelt-mode"
        ),
    ],
)
def test_an_unreadable_body_is_refused_whole(bare_api, body, fragment):
    response = bare_api.post(PATH, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_usage"
    assert fragment in error["message"]


@pytest.mark.parametrize(
    ("event", "reason", "fragment"),
    [
        ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp_out_of_range", "out of the range"),
        ({"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp_out_of_range", "out of the range"),
        ({"timestamp": "2026-03-10T10:00:00"}, "malformed_field", "no UTC offset"),
        ({"timestamp": 1e300}, "timestamp_out_of_range", "out of the range"),
        ({"timestamp": True}, "malformed_field", "timestamp"),
        ({"transaction_id": 5}, "malformed_field", "transaction_id must be a string"),
        ({"transaction_id": "x" * 300}, "unreadable_row", "over 255"),
        ({"properties": [1]}, "malformed_field", "properties must be a JSON object"),
        ({"event_type": "nothing"}, "unknown_event_type", '"nothing"'),
        ({"event_type": ["api_call"]}, "malformed_field", "event_type"),
        ({"surprise": 1}, "malformed_field", "unknown field 'surprise'"),
        (
            {"event_type": "storage", "properties": {"gb": 10**40, "region": "eu"}},
            "invalid_property",
            "too large",
        ),
        (
            {"event_type": "storage", "properties": {"gb": {"n": 1}, "region": "eu"}},
            "invalid_property",
            "must be a number",
        ),
    ],
)
def test_a_bad_event_refuses_the_preview_naming_its_index(bare_api, event, reason, fragment):
    good = {"event_type": "api_call"}
    response = bare_api.post(PATH, content=_events(good, {"event_type": "api_call", **event}), headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    (problem,) = error["problems"]
    assert problem["index"] == 1
    assert reason is None or problem["reason"] == reason
    assert fragment in problem["message"]
    assert error["message"].startswith("events[1]: ")


def test_an_event_over_the_row_limit_is_refused_as_ingestion_would_hold_it(bare_api):
    # sent to POST /v1/events it would be quarantined, billing nothing: the preview cannot price it
    response = bare_api.post(PATH, content=_call({"properties": {"note": "x" * 70_000}}), headers=JSON)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["error"]["problems"]
    assert problem["reason"] == "unreadable_row" and "over the limit of 65,536" in problem["message"]


def test_a_huge_exponent_is_refused_not_expanded(bare_api):
    body = b'{"events": [{"event_type": "storage", "properties": {"gb": 1e999999999, "region": "eu"}}]}'
    response = bare_api.post(PATH, content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["reason"] == "invalid_property"


def test_a_repeated_id_with_another_payload_is_a_conflict(bare_api):
    first = {"event_type": "api_call", "transaction_id": "t", "timestamp": "2026-03-10T10:00:00Z"}
    response = bare_api.post(PATH, content=_events(first, {**first, "timestamp": "2026-03-11T10:00:00Z"}))
    assert response.status_code == 422
    (problem,) = response.json()["error"]["problems"]
    assert (problem["index"], problem["reason"]) == (1, "conflict")


def test_a_body_over_1_mib_is_413_by_its_content_length(bare_api):
    body = _events() + b" " * MAX_BODY_BYTES
    response = bare_api.post(PATH, content=body, headers=JSON)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_over_1_mib_is_413_without_a_content_length(bare_api):
    def chunks():
        yield b'{"events": ['
        for _ in range(MAX_BODY_BYTES // 25 + 1):
            yield b'{"event_type": "api_call"},'
        yield b"{}]}"

    response = bare_api.post(PATH, content=chunks(), headers=JSON)  # chunked: no Content-Length
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_over_1_mib_is_413_when_the_content_length_lies(bare_api):
    messages = [
        {"type": "http.request", "body": b" " * (MAX_BODY_BYTES // 2), "more_body": True},
        {"type": "http.request", "body": b" " * (MAX_BODY_BYTES // 2), "more_body": True},
        {"type": "http.request", "body": b'{"events": []}', "more_body": False},
    ]
    status, body = asyncio.run(_asgi_post(bare_api, messages, content_length=b"14"))
    assert status == 413
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_a_body_just_under_the_limit_is_read(bare_api):
    body = _events() + b" " * (MAX_BODY_BYTES - len(_events()))
    assert bare_api.post(PATH, content=body, headers=JSON).status_code == 200


async def _asgi_post(client, messages, content_length: bytes) -> tuple[int, bytes]:
    """Drive the app as a server would, with a Content-Length smaller than the body sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("testserver", 80),
        "client": ("testclient", 50000),
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", content_length),
            (b"authorization", client.headers["Authorization"].encode()),
        ],
    }
    pending = list(messages)
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await client.app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("customer", ["zulu", "a%00b", "%ED%A0%80"])
def test_an_unknown_customer_is_404(bare_api, customer):
    response = bare_api.post(f"/v1/customers/{customer}/preview", json={"events": []})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_customer"
