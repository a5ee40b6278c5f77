"""A webhook receiver on 127.0.0.1: the `webhook_receiver` fixture verifies and records requests.

Each request is verified as a real receiver would, with `standardwebhooks.Webhook(secret)
.verify(body, headers)`; `statuses` scripts the answers (then `status` for the rest); `hold`
makes every request wait until it is set (a receiver that is slow or a sender killed mid-send).
Registered in tests/conftest.py.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"receiver-test-secret-of-32-bytes").decode()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: Any  # the parsed body, or the WebhookVerificationError

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def ok(self) -> bool:
        return not isinstance(self.verified, WebhookVerificationError)

    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


@dataclass
class FakeWebhookReceiver:
    url: str
    secret: str = WEBHOOK_SECRET
    status: int = 200
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    retry_after: str | None = None  # sent as `Retry-After` with every answer of 300 or more
    hold: threading.Event | None = None  # set: requests wait for it
    arrived: threading.Event = field(default_factory=threading.Event)  # a request came in
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        with self.lock:
            return [r.id for r in self.requests]


@pytest.fixture
def webhook_receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeWebhookReceiver]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    state: FakeWebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verified: Any = Webhook(state.secret).verify(body, headers)
            except WebhookVerificationError as error:
                verified = error
            with state.lock:
                state.requests.append(Received(headers, body, verified))
                status = state.statuses.pop(0) if state.statuses else state.status
            state.arrived.set()
            if state.hold is not None:
                state.hold.wait(timeout=60)
            answer = b'{"error": "try later"}' if status >= 300 else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            if status >= 300 and state.retry_after is not None:
                self.send_header("Retry-After", state.retry_after)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = FakeWebhookReceiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/billing")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.hold is not None:
            state.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
