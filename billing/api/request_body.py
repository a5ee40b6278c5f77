"""Request bodies: at most 1 MiB, read as exact JSON, and only text that can be stored.

The size is enforced while the body is read (`BodyLimit`), whatever `Content-Length` says or
whether it is sent at all. The JSON is refused, with the place named, when it is not UTF-8 JSON,
nests deeper than the events' limit, or holds text no database stores (a NUL character, a lone
surrogate): a request answers 413 or 422, never 500. A body sent compressed (`Content-Encoding`
other than `identity`) is 415, with `Accept-Encoding: identity`: it is never read as if it were
plain (RFC 7694).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from billing.core.errors import InvalidUsage
from billing.core.events import loads

MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32  # as for one event (SPEC §5); a preview body adds two levels around its events

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class NestedTooDeep(InvalidUsage):
    """A body nesting past what the parser can follow (Python's recursion limit)."""


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class BodyLimit:
    """ASGI middleware: a body past `limit` bytes fails with 413 as soon as it is known to."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(self.limit, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)


async def _too_large(limit: int, send: Send) -> None:
    error = {"error": {"code": "payload_too_large", "message": BodyTooLarge(limit).detail}}
    body = json.dumps(error).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def exact_json(request: Request) -> Any:
    """The request body parsed with every number as an exact Decimal (never through a float),
    refused whole if any of it could not be stored (a preview prices all of it or nothing).
    A body declared of another media type than JSON is 415; one declared of none is read as JSON."""
    declared = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared and declared != "application/json" and not declared.endswith("+json"):
        raise HTTPException(415, f"cannot read a {declared[:100]!r} body: send application/json")
    refuse_encoded(request)
    document = parsed_json(await request.body())
    problem = unstorable_text(document)
    if problem:
        raise InvalidUsage(f"the request body {problem}")
    return document


def refuse_encoded(request: Request) -> None:
    """415 for a body declared compressed: gzip bytes are not JSON, and a body declared gzip
    yet sent plain would be read as something it says it is not. Only `identity` is read."""
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding and encoding != "identity":
        raise HTTPException(
            415,
            f"cannot read a body with Content-Encoding {encoding[:40]!r}: send it uncompressed",
            {"Accept-Encoding": "identity"},
        )


def parsed_json(body: bytes) -> Any:
    """UTF-8 JSON with exact numbers; the text is not checked for what a database refuses, so
    that a batch of events can quarantine its bad ones one by one (SPEC §5)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidUsage(
            f"the request body is not UTF-8: byte {body[error.start]:#04x} at position {error.start}"
        ) from None
    try:
        document = loads(text or "null")
    except RecursionError:
        raise NestedTooDeep(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise InvalidUsage(f"the request body is not valid JSON: {_one_line(error)}") from None
    return document


def unstorable_text(document: Any) -> str | None:
    """Where a JSON document nests too deep or holds a NUL or a lone surrogate, or None.
    Walked without recursion, so any depth that the parser accepted is safe here."""
    pending: list[tuple[Any, str, int]] = [(document, "", 0)]
    while pending:
        value, where, depth = pending.pop()
        if depth > MAX_DEPTH + 2:
            return f"nests deeper than {MAX_DEPTH} levels at {where or 'the top'}"
        if isinstance(value, str):
            problem = _text_problem(value)
            if problem:
                return f"has {problem} at {where or 'the top'}"
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = _text_problem(key)
                if problem:
                    return f"has {problem} in a key at {where or 'the top'}"
                pending.append((item, f"{where}.{key}" if where else key, depth + 1))
        elif isinstance(value, list):
            pending.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (text that is not Unicode)"
    return None


def _one_line(error: ValueError) -> str:
    return str(error).splitlines()[0][:200]
