"""The console in headless Chromium (Debian's, driven by Playwright), inside an iframe of a page on
another origin, against a real `billing serve` app under uvicorn (SPEC §8).

Three servers on 127.0.0.1, each its own origin: the billing API (its frame ancestors list the
vendor's origin), the vendor's page that frames the console, and a stranger's page that tries
to. One browser for the session. The console's visible figures are compared with the usage
API's, its chart marks with the days the API says have usage; axe-core (vendored) runs inside
the frame; a screenshot is saved under the test's tmp directory.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn

from billing.api import dependencies as deps
from billing.api.app import create_app
from billing.runtime.settings import Settings
from billing.sources.catalog_file import load_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from billing.store.database import create_engine, upgrade
from tests.conftest import FIXTURES

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).with_name("axe.min.js")
SECRET = "browser-test-console-secret-0123456789"


def listening_socket() -> socket.socket:
    """A socket bound to a free port and listening already: requests wait in its backlog until
    the server started on it accepts them, so no test waits for a server to come up."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@dataclass
class Billing:
    url: str
    key: str

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kwargs)


class FramingPages:
    """A tiny HTTP server whose `/frame?src=...&width=...` page iframes `src`."""

    def __init__(self) -> None:

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                from urllib.parse import parse_qs, urlsplit

                query = parse_qs(urlsplit(self.path).query)
                if "src" not in query:  # the browser's /favicon.ico
                    self.send_error(404)
                    return
                src, width = query["src"][0], query.get("width", ["960"])[0]
                body = (
                    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vendor app</title>'
                    "</head><body><h1>Vendor app</h1>"
                    f'<iframe id="console" title="Billing" src="{src}" width="{int(width)}" height="900">'
                    "</iframe></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def page(self, src: str, width: int = 960) -> str:
        from urllib.parse import urlencode

        return f"{self.origin}/frame?{urlencode({'src': src, 'width': width})}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def vendor() -> Iterator[FramingPages]:
    pages = FramingPages()
    yield pages
    pages.close()


@pytest.fixture(scope="module")
def stranger() -> Iterator[FramingPages]:
    pages = FramingPages()
    yield pages
    pages.close()


@pytest.fixture(scope="module")
def billing(tmp_path_factory, vendor, event_suite) -> Iterator[Billing]:
    """`billing serve`'s app under uvicorn in a thread, on a migrated SQLite database."""
    path = tmp_path_factory.mktemp("billing") / "billing.db"
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", now)
        key = create_key(connection, "browser", now)
    sock = listening_socket()
    port = sock.getsockname()[1]
    settings = Settings(
        database_url=url,
        console_secret=SECRET,
        console_frame_ancestors=f"'self' {vendor.origin}",
        public_url=f"http://127.0.0.1:{port}",
        api_rate_limit=1000,
        api_rate_burst=1000,
    )
    app = create_app(settings, engine)
    app.dependency_overrides[deps.event_suite] = lambda: event_suite  # built once per session
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Billing(settings.public_url, key)
    server.should_exit = True
    thread.join(timeout=30)
    sock.close()


@pytest.fixture(scope="module")
def browser():
    """Chromium through Playwright's sync API, for this module only: while `sync_playwright` is
    open its event loop counts as running in this thread, so Prefect's sync/async dispatch would
    hand a later test's `state.result()` a coroutine (tests/conftest.py checks flow tests for it)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def usage(billing) -> dict:
    """Bravo's API calls on two of its local days (one if the period began today), then its
    usage as the API answers it."""
    now = datetime.now(UTC)
    stamps = [now - timedelta(minutes=5)] * 3 + [now - timedelta(hours=30)] * 2
    events = [
        {
            "transaction_id": f"browser-{n}",
            "customer_id": "bravo",
            "event_type": "api_call",
            "timestamp": stamp.isoformat(),
            "properties": {},
        }
        for n, stamp in enumerate(stamps)
    ]
    answer = billing.api("POST", "/v1/events", json={"events": events})
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] >= 3  # the day-old ones fall before a period begun today
    document = billing.api("GET", "/v1/customers/bravo/usage")
    assert document.status_code == 200, document.text
    return document.json()


def console_url(billing: Billing) -> str:
    answer = billing.api("POST", "/v1/customers/bravo/console-sessions")
    assert answer.status_code == 200, answer.text
    return answer.json()["url"]


def console_frame(page):
    page.wait_for_load_state("load")
    frames = [f for f in page.frames if f != page.main_frame]
    assert len(frames) == 1
    return frames[0]


def test_the_console_in_a_vendor_iframe_shows_the_api_figures(browser, billing, vendor, usage, tmp_path):
    page = browser.new_page(viewport={"width": 1024, "height": 1000})
    page.goto(vendor.page(console_url(billing)))
    frame = console_frame(page)
    frame.wait_for_selector("h1")
    assert frame.inner_text("h1") == "Billing for Bravo LLC"
    running = usage["running_invoice"]["total"]
    assert frame.inner_text("#running-total") == f"${running}"
    assert frame.inner_text("#spend") == f"${usage['spend']}"
    calls = next(m for m in usage["metrics"] if m["code"] == "api_calls")
    used_days = [d["day"] for d in calls["days"] if d["quantity"] != "0"]
    marks = frame.eval_on_selector_all(
        'svg.chart[data-metric="api_calls"] rect.mark', "marks => marks.map(m => m.dataset.day)"
    )
    assert marks == used_days and len(marks) >= 1
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    assert (tmp_path / "console.png").stat().st_size > 0
    print(f"screenshot: {tmp_path / 'console.png'}")

    frame.evaluate(AXE.read_text(encoding="utf-8"))
    results = frame.evaluate("async () => JSON.stringify(await axe.run(document))")
    violations = json.loads(results)["violations"]
    serious = [
        (v["id"], v["impact"], v["help"]) for v in violations if v["impact"] in ("serious", "critical")
    ]
    assert serious == []
    page.close()


def test_the_console_fits_a_360_pixel_iframe(browser, billing, vendor, usage, tmp_path):
    page = browser.new_page(viewport={"width": 400, "height": 1000})
    page.goto(vendor.page(console_url(billing), width=360))
    frame = console_frame(page)
    frame.wait_for_selector("h1")
    widths = frame.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], widths
    assert widths[1] <= 360
    page.screenshot(path=str(tmp_path / "console-360.png"), full_page=True)
    page.close()


def test_a_page_of_an_origin_not_listed_cannot_frame_the_console(browser, billing, stranger, usage):
    page = browser.new_page()
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(stranger.page(console_url(billing)))
    frame = console_frame(page)
    assert frame.url.startswith("chrome-error://")  # the browser refused to render it there
    assert frame.query_selector("#running-total") is None
    assert any("frame-ancestors" in text for text in refused), refused
    page.close()
