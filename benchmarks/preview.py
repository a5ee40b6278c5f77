"""Preview benchmark: the real endpoint for a customer whose current period holds many events.

Loads 1,000,000 events of one customer (five metrics, one per aggregation) into PostgreSQL
(untimed, COPY), then starts a fresh server process that answers `POST /v1/customers/big/preview`
through FastAPI's TestClient: 10 added events in `merge` mode, best of 3, each of `--clients`
concurrent clients sending its own request. Reports the time of one preview and the server
process's peak RSS (its whole life, imports included).

    python benchmarks/preview.py [--events N] [--clients N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, peak_rss_mb, report
from billing.core.catalog import parse_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from tests.bulk import bulk_load_events

NOW = datetime(2026, 10, 20, 12, tzinfo=UTC)
START = datetime(2026, 10, 1, tzinfo=UTC)
CATALOG = {
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
        {"id": "big", "email": "big@example.com", "contracts": [{"plan": "usage", "starts_on": "2026-10-01"}]}
    ],
}
ADDED = [
    {"event_type": "api_call"},
    {"event_type": "llm", "properties": {"tokens": 1500}},
    {"event_type": "storage", "properties": {"gb": 12.5}},
    {"event_type": "login", "properties": {"user": "u-new"}},
    {"event_type": "login", "properties": {"user": "u-17"}},
    {"event_type": "seat", "properties": {"n": 500}},
    *({"event_type": "api_call"} for _ in range(4)),
]


def _rows(total: int, seed: int) -> Iterator[tuple]:
    rng = random.Random(seed)
    span = int((NOW - START).total_seconds()) - 60
    for n in range(total):
        at = START + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        kind = rng.choice(["api_call", "api_call", "llm", "storage", "login", "seat"])
        props = {
            "api_call": "{}",
            "llm": f'{{"tokens":{rng.randrange(1, 4000)}}}',
            "storage": f'{{"gb":{rng.randrange(1, 10**6) / 100}}}',
            "login": f'{{"user":"u-{rng.randrange(20000)}"}}',
            "seat": f'{{"n":{rng.randrange(1, 500)}}}',
        }[kind]
        yield f"evt-{n}", "big", kind, at, props


def load(total: int, name: str) -> tuple[str, str]:
    """A fresh database holding the catalog, an API key and `total` events; (url, key)."""
    engine = bench_database(name)
    with engine.begin() as connection:
        save_catalog(connection, parse_catalog(CATALOG), "benchmark", NOW)
        key = create_key(connection, "benchmark", NOW)
    bulk_load_events(engine, _rows(total, seed=7))
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE events")
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    return url, key


def serve(url: str, key: str, clients: int, runs: int) -> dict[str, object]:
    """In this process: the app on `url`, `runs` rounds of `clients` concurrent previews."""
    from fastapi.testclient import TestClient

    from billing.api import dependencies as deps
    from billing.api.app import create_app
    from billing.runtime.settings import Settings

    app = create_app(Settings(database_url=url))
    app.dependency_overrides[deps.now] = lambda: NOW
    headers = {"Authorization": f"Bearer {key}"}
    statuses: list[int] = []
    best = float("inf")
    body: dict[str, object] = {}
    answers: list[tuple[int, dict[str, object]]] = []

    def one() -> None:
        with TestClient(app) as client:
            response = client.post("/v1/customers/big/preview", json={"events": ADDED}, headers=headers)
            answers.append((response.status_code, response.json()))

    for _ in range(runs):
        answers.clear()
        threads = [threading.Thread(target=one) for _ in range(clients)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        best = min(best, time.perf_counter() - start)
        statuses += [status for status, _ in answers]
        body = answers[0][1]
    return {
        "seconds": round(best, 3),
        "statuses": sorted(set(statuses)),
        "cost": body.get("cost") or body.get("error"),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="preview", help="database name: billing_bench_NAME")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "KEY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(*args.serve, args.clients, args.runs)), flush=True)
        return 0
    started = time.perf_counter()
    url, key = load(args.events, args.database)
    print(f"loaded {args.events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    server = subprocess.run(
        [
            sys.executable,
            __file__,
            "--serve",
            url,
            key,
            *("--clients", str(args.clients)),
            *("--runs", str(args.runs)),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    from billing.store.database import create_engine

    drop_bench_database(create_engine(url))
    if server.returncode != 0:
        print(server.stderr, file=sys.stderr)
        return 1
    figures = json.loads(server.stdout.strip().splitlines()[-1])
    print(
        f"preview of {args.events:,} stored events, {args.clients} client(s): {figures['seconds']} s, "
        f"statuses {figures['statuses']}, server peak RSS {figures['peak_rss_mb']} MB"
    )
    report({"bench": "preview", "events": args.events, "clients": args.clients, **figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
