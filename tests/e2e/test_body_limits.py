"""Every route that reads a body answers 413 past 1 MiB (SPEC §8): by its Content-Length, while
a chunked body without one is read, and when the Content-Length is smaller than what is sent.
The routes are those the OpenAPI schema gives a request body, so new ones are checked too."""

from __future__ import annotations

import asyncio
import json

import pytest

from billing.api.request_body import MAX_BODY_BYTES
from tests.e2e.conftest import client_for

JSON = {"Content-Type": "application/json"}


def _body_routes(client) -> list[str]:
    schema = client.get("/openapi.json").json()
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert method == "post", (method, path)  # the drive below sends POSTs
                found.append(path.replace("{customer_id}", "bravo").replace("{number}", "INV-000001"))
    return found


def test_the_body_routes_are_found(bare_api) -> None:
    assert {"/v1/events", "/v1/customers/bravo/preview"} <= set(_body_routes(bare_api))


@pytest.mark.parametrize("how", ["content-length", "chunked", "lying-content-length"])
def test_every_body_route_refuses_a_body_over_1_mib(engine, how) -> None:
    client = client_for(engine)
    for path in _body_routes(client):
        filler = b" " * (MAX_BODY_BYTES // 2)
        if how == "content-length":
            response = client.post(path, content=b'{"events": []}' + filler * 2, headers=JSON)
            status, body = response.status_code, response.content
        elif how == "chunked":

            def chunks():
                yield b'{"events": []}'
                yield filler
                yield filler
                yield b" "

            response = client.post(path, content=chunks(), headers=JSON)
            assert "content-length" not in response.request.headers
            status, body = response.status_code, response.content
        else:
            messages = [filler, filler, b'{"events": []}']
            status, body = asyncio.run(_post(client, path, messages, content_length=b"14"))
        assert status == 413, (how, path)
        assert json.loads(body)["error"]["code"] == "payload_too_large", (how, path)


async def _post(client, path: str, parts: list[bytes], content_length: bytes) -> tuple[int, bytes]:
    """Drive the app as a server would, with a Content-Length smaller than the body sent."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
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
    pending = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await client.app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("encoding", ["gzip", "br", "GZIP", "gzip, identity"])
def test_every_body_route_refuses_a_compressed_body(bare_api, encoding) -> None:
    """A body declared compressed is 415 naming the encoding, never read as if plain: gzip bytes
    were "not UTF-8" (a 422 blaming the JSON), and a plain body declared br was stored as sent."""
    import gzip

    plain = b'{"events": []}'
    for path in _body_routes(bare_api):
        for body in (gzip.compress(plain), plain):
            headers = {**JSON, "Content-Encoding": encoding}
            response = bare_api.post(path, content=body, headers=headers)
            assert response.status_code == 415, (path, encoding, response.text)
            error = response.json()["error"]
            assert error["code"] == "unsupported_media_type"
            assert f"Content-Encoding {encoding.lower()!r}" in error["message"]
            assert response.headers["Accept-Encoding"] == "identity"


def test_an_identity_encoding_is_read(bare_api) -> None:
    headers = {**JSON, "Content-Encoding": "identity"}
    response = bare_api.post("/v1/events", content=b'{"events": []}', headers=headers)
    assert response.status_code == 200, response.text
