"""A local stand-in for SendGrid's v3 API: the `sendgrid_server` fixture records each request.

Shared by the email backend tests and the invoice email tests (registered in tests/conftest.py).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


@dataclass
class FakeSendGrid:
    url: str
    status: int = 202
    body: bytes = b""
    message_id: str | None = "msg-abc123.filter0001"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # more headers on every answer
    requests: list[Recorded] = field(default_factory=list)


@pytest.fixture
def sendgrid_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSendGrid]:
    # urllib honours proxy variables; make sure 127.0.0.1 is always reached directly.
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    state: FakeSendGrid

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                Recorded("POST", self.path, dict(self.headers.items()), self.rfile.read(length))
            )
            if state.delay:
                time.sleep(state.delay)
            self.send_response(state.status)
            if state.message_id is not None:
                self.send_header("X-Message-Id", state.message_id)
            self.send_header("Content-Type", "application/json")
            for name, value in state.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = FakeSendGrid(url=f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
