"""Preview benchmark: `billing serve` answering 10-event merge previews, on PostgreSQL.

Loads (untimed, COPY) two customers into a fresh database on the server of
BILLING_BENCH_DATABASE_URL: `big` with `--events` events (default 1,000,000) in its current
period and `small` with `--small-events` (default 10,000); five metrics, one per aggregation,
`unique_count` over `--users` distinct users (default 1,000). The catalog is saved after the load,
so that it builds the usage rollups from the stored events; the script checks they are fresh
(else previews would read the raw events). Then it starts a real `billing serve` (uvicorn) with
the rate limit raised, `--workers` processes (default one per core, as a deployment would run
it), and measures:

- open loop: `--clients` keep-alive connections (default 20) sending `--rate` previews a second
  in total (default 100) for `--seconds` (default 10), each request's latency counted from the
  time it was scheduled to be sent (a slow answer delays the next send of its connection, and
  that delay counts: no coordinated omission); p50 and p99 per customer, and
  `scale_ratio` = p99(big) / p99(small);
- closed loop: the same connections sending back to back for `--seconds`: previews a second,
  against bare `GET /healthz` a second (`ratio` = healthz rps / preview rps);
- the console: a token minted by `POST /v1/customers/big/console-sessions` (the server runs
  with a random BILLING_CONSOLE_SECRET), then `--console-requests` `GET /console?token=` (default
  200) from one client, one page after the other (a person opening the console: the issue's
  "console page p95", `console_p95_ms`), then as many again over all the connections back to
  back (printed, not in the JSON: 20 pages at once queue on the server's cores).

The client is threads over `http.client`, to leave the cores to the server and PostgreSQL.
The last line is one JSON object: `{"bench": "preview", "p50_ms", "p99_ms", "rps", "ratio",
"scale_ratio", "console_p95_ms"}` (p50/p99 those of `big`; `console_p95_ms` the one-client page).

    python benchmarks/preview.py [--events N] [--small-events N] [--clients N] [--rate N] [--seconds N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, report
from billing.core.catalog import parse_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from billing.store.rollups import fresh_signatures
from tests.bulk import bulk_load_events

PERIOD_DAYS = 27  # the contract starts this many days ago: today is late in its current period
ADDED = [
    {"event_type": "api_call"},
    {"event_type": "llm", "properties": {"tokens": 1500}},
    {"event_type": "storage", "properties": {"gb": 12.5}},
    {"event_type": "login", "properties": {"user": "u-new"}},
    {"event_type": "login", "properties": {"user": "u-17"}},
    {"event_type": "seat", "properties": {"n": 500}},
    *({"event_type": "api_call"} for _ in range(4)),
]


def bench_catalog(starts_on: date) -> dict[str, object]:
    contract = [{"plan": "usage", "starts_on": starts_on.isoformat()}]
    return {
        "currency": "USD",
        "metrics": [
            {"code": "api_calls", "event_type": "api_call", "aggregation": "count"},
            {"code": "tokens", "event_type": "llm", "aggregation": "sum", "field": "tokens"},
            {"code": "storage", "event_type": "storage", "aggregation": "max", "field": "gb"},
            {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
            {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
        ],
        "plans": [
            {
                "code": "usage",
                "interval": "monthly",
                "charges": [
                    {"model": "flat", "amount": "20.00"},
                    {
                        "metric": "api_calls",
                        "model": "graduated",
                        "tiers": [
                            {"up_to": 100000, "unit_price": "0.001"},
                            {"up_to": None, "unit_price": "0.0005"},
                        ],
                    },
                    {"metric": "tokens", "model": "package", "package_size": 1000, "package_price": "0.02"},
                    {"metric": "storage", "model": "per_unit", "unit_price": "0.10"},
                    {"metric": "users", "model": "per_unit", "unit_price": "1.00"},
                    {"metric": "seats", "model": "per_unit", "unit_price": "12.00"},
                ],
            }
        ],
        "customers": [
            {"id": "big", "email": "big@example.com", "contracts": contract},
            {"id": "small", "email": "small@example.com", "contracts": contract},
        ],
    }


def _rows(
    customer: str, total: int, start: datetime, end: datetime, users: int, seed: int
) -> Iterator[tuple]:
    rng = random.Random(seed)
    span = int((end - start).total_seconds())
    for n in range(total):
        at = start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        kind = rng.choice(["api_call", "api_call", "llm", "storage", "login", "seat"])
        props = {
            "api_call": "{}",
            "llm": f'{{"tokens":{rng.randrange(1, 4000)}}}',
            "storage": f'{{"gb":{rng.randrange(1, 10**6) / 100}}}',
            "login": f'{{"user":"u-{rng.randrange(users)}"}}',
            "seat": f'{{"n":{rng.randrange(1, 500)}}}',
        }[kind]
        yield f"{customer}-{n}", customer, kind, at, props


def load(big: int, small: int, users: int, name: str) -> tuple[str, str]:
    """A fresh database holding both customers' events, then the catalog (which builds the
    rollups from them) and an API key; (url, key)."""
    now = datetime.now(UTC)
    starts_on = now.date() - timedelta(days=PERIOD_DAYS)
    start = datetime(starts_on.year, starts_on.month, starts_on.day, tzinfo=UTC)
    until = now - timedelta(minutes=1)
    engine = bench_database(name)
    bulk_load_events(engine, _rows("big", big, start, until, users, seed=7))
    bulk_load_events(engine, _rows("small", small, start, until, users, seed=8))
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE events")
    catalog = parse_catalog(bench_catalog(starts_on))
    with engine.begin() as connection:
        save_catalog(connection, catalog, "benchmark", now)
        key = create_key(connection, "benchmark", now)
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
        fresh = fresh_signatures(connection, catalog.metrics)
    assert len(fresh) == len(catalog.metrics), "the rollups are not fresh: previews would read raw events"
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url, key


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(url: str, port: int, workers: int = 1) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BILLING_DATABASE_URL": url,
        "BILLING_API_RATE_LIMIT": "1000000",
        "BILLING_API_RATE_BURST": "1000000",
        "BILLING_CONSOLE_SECRET": secrets.token_hex(32),  # the console is off without one
    }
    billing = Path(sys.executable).with_name("billing")
    server = subprocess.Popen(
        [str(billing), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"billing serve exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("billing serve did not answer /healthz within 120 s")


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]


def preview_request(customer: str, key: str) -> Request:
    body = json.dumps({"mode": "merge", "events": ADDED}).encode()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    return Request("POST", f"/v1/customers/{customer}/preview", body, headers)


HEALTHZ = Request("GET", "/healthz", None, {})


class Client:
    """One keep-alive connection; one the server closed while idle (uvicorn's keep-alive
    timeout, 5 s) is opened again and the request sent on it, as an HTTP client does."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def send(self, request: Request) -> int:
        return self.fetch(request)[0]

    def fetch(self, request: Request) -> tuple[int, bytes]:
        try:
            return self._fetch(request)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            self.connection.close()
            self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            return self._fetch(request)

    def _fetch(self, request: Request) -> tuple[int, bytes]:
        self.connection.request(request.method, request.path, request.body, request.headers)
        response = self.connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self.connection.close()


def _in_threads(clients: list[Client], work: Callable[[int, Client], None]) -> None:
    threads = [threading.Thread(target=work, args=(n, c)) for n, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def open_loop(
    clients: list[Client], request: Request, rate: float, seconds: float
) -> tuple[list[float], set[int]]:
    """Latencies (s) of `rate` requests a second in total for `seconds`, each from its scheduled
    send time; client n sends at t0 + n/rate + k*len(clients)/rate."""
    latencies: list[float] = []
    statuses: set[int] = set()
    lock = threading.Lock()
    interval = len(clients) / rate
    count = int(seconds * rate / len(clients))
    t0 = time.perf_counter() + 0.5

    def work(n: int, client: Client) -> None:
        mine: list[float] = []
        seen: set[int] = set()
        for k in range(count):
            scheduled = t0 + n / rate + k * interval
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            seen.add(client.send(request))
            mine.append(time.perf_counter() - scheduled)
        with lock:
            latencies.extend(mine)
            statuses.update(seen)

    _in_threads(clients, work)
    return latencies, statuses


def closed_loop(clients: list[Client], request: Request, seconds: float) -> tuple[float, set[int]]:
    """Requests answered a second with every client sending back to back."""
    done = [0] * len(clients)
    statuses: set[int] = set()
    stop = time.perf_counter() + seconds

    def work(n: int, client: Client) -> None:
        while time.perf_counter() < stop:
            statuses.add(client.send(request))
            done[n] += 1

    start = time.perf_counter()
    _in_threads(clients, work)
    return sum(done) / (time.perf_counter() - start), statuses


def console_page(key: str, customer: str, client: Client) -> Request:
    """The console page of `customer`, under a token minted as an integrator would, by
    `POST /v1/customers/{id}/console-sessions` with the API key."""
    headers = {"Authorization": f"Bearer {key}"}
    mint = Request("POST", f"/v1/customers/{customer}/console-sessions", b"", headers)
    status, body = client.fetch(mint)
    assert status == 200, f"console session: {status} {body[:200]!r}"
    url = urlsplit(json.loads(body)["url"])
    return Request("GET", f"{url.path}?{url.query}", None, {})


def console_latencies(page: Request, clients: list[Client], total: int) -> list[float]:
    """Latencies (s) of `total` console pages, shared over the clients sending back to back
    (one client: one page after the other)."""
    latencies: list[float] = []
    lock = threading.Lock()
    share = [total // len(clients) + (1 if n < total % len(clients) else 0) for n in range(len(clients))]

    def work(n: int, client: Client) -> None:
        mine = []
        for _ in range(share[n]):
            started = time.perf_counter()
            status, body = client.fetch(page)
            assert status == 200, f"console page: {status} {body[:200]!r}"
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    _in_threads(clients, work)
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small-events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000, help="distinct users of unique_count")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=float, default=100, help="previews a second in total (open loop)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--console-requests", type=int, default=200, help="console pages timed, from one client and from all"
    )
    parser.add_argument("--database", default="preview", help="database name: billing_bench_NAME")
    parser.add_argument("--keep", action="store_true", help="keep the database (for EXPLAIN)")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="server processes (`billing serve --workers`); default one per core",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    url, key = load(args.events, args.small_events, args.users, args.database)
    print(f"loaded {args.events:,} + {args.small_events:,} events in {time.perf_counter() - started:.1f} s")
    port = free_port()
    server = start_server(url, port, args.workers)
    clients = [Client(port) for _ in range(args.clients)]
    try:
        big, small = preview_request("big", key), preview_request("small", key)

        def warm(_n: int, client: Client) -> None:  # every connection, and the first previews
            assert client.send(big) == 200 and client.send(small) == 200

        _in_threads(clients, warm)
        figures: dict[str, dict[str, float]] = {}
        for name, request in (("big", big), ("small", small)):
            latencies, statuses = open_loop(clients, request, args.rate, args.seconds)
            assert statuses == {200}, f"preview statuses {statuses}"
            figures[name] = {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)}
            print(
                f"open loop, {name}: {len(latencies)} previews at {args.rate:g}/s, "
                f"p50 {ms(figures[name]['p50'])} ms, p99 {ms(figures[name]['p99'])} ms"
            )
        preview_rps, statuses = closed_loop(clients, big, args.seconds)
        assert statuses == {200}, f"preview statuses {statuses}"
        healthz_rps, statuses = closed_loop(clients, HEALTHZ, args.seconds)
        assert statuses == {200}, f"healthz statuses {statuses}"
        print(
            f"closed loop, {args.clients} connections: "
            f"{preview_rps:.0f} previews/s, {healthz_rps:.0f} healthz/s"
        )
        page = console_page(key, "big", clients[0])
        console = console_latencies(page, clients[:1], args.console_requests)
        print(
            f"console page, big, one client: {len(console)} pages, "
            f"p50 {ms(percentile(console, 0.5))} ms, p95 {ms(percentile(console, 0.95))} ms"
        )
        crowded = console_latencies(page, clients, args.console_requests)
        print(
            f"console page, big, {args.clients} connections back to back: {len(crowded)} pages, "
            f"p50 {ms(percentile(crowded, 0.5))} ms, p95 {ms(percentile(crowded, 0.95))} ms"
        )
    finally:
        for client in clients:
            client.close()
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            from billing.store.database import create_engine

            drop_bench_database(create_engine(url))
    report(
        {
            "bench": "preview",
            "p50_ms": ms(figures["big"]["p50"]),
            "p99_ms": ms(figures["big"]["p99"]),
            "rps": round(preview_rps, 1),
            "ratio": round(healthz_rps / preview_rps, 2),
            "scale_ratio": round(figures["big"]["p99"] / figures["small"]["p99"], 2),
            "console_p95_ms": ms(percentile(console, 0.95)),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
