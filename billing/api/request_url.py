"""Request URLs with a NUL character, answered before any route runs: no database stores or
compares text holding one (PostgreSQL refuses the statement), so no customer id or invoice
number holds one. In the path it is 404 (`unknown_customer` under `/v1/customers/`,
`unknown_invoice` under `/v1/invoices/`, else `not_found`); in the query string 422
`invalid_request`. Bytes that are not UTF-8 never get this far as such: the server decodes them
to U+FFFD, which is plain text."""

from __future__ import annotations

import json

from billing.api.request_body import ASGIApp, Receive, Scope, Send


class RefuseNulInUrl:
    """ASGI middleware: 404 for a NUL in the path, 422 for one in the query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope.get("path", "")
            if "\x00" in path:
                code = _UNKNOWN.get(path.split("/")[2] if path.count("/") > 2 else "", "not_found")
                await _refuse(404, code, f"nothing is named with a NUL character (%00): {path[:200]!r}", send)
                return
            query: bytes = scope.get("query_string", b"")
            if b"\x00" in query or b"%00" in query:
                message = "the request's query string holds a NUL character (%00)"
                await _refuse(422, "invalid_request", message, send)
                return
        await self.app(scope, receive, send)


_UNKNOWN = {"customers": "unknown_customer", "invoices": "unknown_invoice"}


async def _refuse(status: int, code: str, message: str, send: Send) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
