"""HTTP ingest benchmark: 8 concurrent clients posting 1,000-event batches to `POST /v1/events`.

A real server, as `billing serve [--workers N]` runs it (uvicorn, the app's thread pool), on a
fresh PostgreSQL database holding the ingest benchmark's catalog (1,000 customers). Each client
is a thread with its own httpx connection, posting pre-serialized bodies of clean, unique
events. The baseline, in the same run with the same clients, bodies and number of server
processes: a bare uvicorn app that parses each body as exact JSON and COPYs its rows into a
bare table keyed on transaction_id. Then, in this process, one batch's time alone split into
its parts (parse, frame, Great Expectations, staging, lock, merge, rollups, quarantine, commit,
alerts) to show where a request's time goes.

The machine may be shared: compare the ratio, not the absolute figures.

    python benchmarks/ingest_http.py [--batches N] [--clients N] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, report
from benchmarks.ingest import CUSTOMERS, METRICS, _properties, bench_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog

BATCH = 1_000
ROOT = Path(__file__).resolve().parents[1]


def bodies(count: int, prefix: str, now: datetime) -> list[bytes]:
    """`count` bodies of `BATCH` clean events each, unique ids, in the last day before `now`."""
    rng = random.Random(11)
    types = [m["event_type"] for m in METRICS]
    result = []
    for b in range(count):
        events = []
        for n in range(BATCH):
            kind = types[n % len(types)]
            at = now - timedelta(seconds=rng.randint(60, 86_000))
            events.append(
                {
                    "transaction_id": f"{prefix}_{b:05d}_{n:04d}",
                    "customer_id": f"c{rng.randrange(CUSTOMERS):04d}",
                    "event_type": kind,
                    "timestamp": at.isoformat().replace("+00:00", "Z"),
                    "properties": _properties(kind, rng),
                }
            )
        result.append(json.dumps({"events": events}).encode())
    return result


# --- the baseline server: parse the body, COPY its rows, nothing else ---------------------


def bare_app() -> Any:
    """An ASGI app answering POST with the body's events COPYed into `bare_events`."""
    import psycopg

    from billing.core.events import dumps, loads

    local = threading.local()  # one connection per thread of the server's pool

    def store(body: bytes) -> int:
        events = loads(body)["events"]
        if getattr(local, "connection", None) is None:
            local.connection = psycopg.connect(os.environ["BARE_DSN"], autocommit=False)
        connection = local.connection
        with connection.cursor() as cursor, cursor.copy("COPY bare_events FROM STDIN") as copy:
            for e in events:
                copy.write_row(
                    (
                        e["transaction_id"],
                        e["customer_id"],
                        e["event_type"],
                        e["timestamp"],
                        dumps(e["properties"]),
                    )
                )
        connection.commit()
        return len(events)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        from starlette.concurrency import run_in_threadpool

        chunks = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        try:
            count = await run_in_threadpool(store, b"".join(chunks))
            status, answer = 200, json.dumps({"received": count}).encode()
        except psycopg.Error as error:
            status, answer = 500, str(error).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


# --- running servers and clients ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(code: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    import httpx

    process = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            print(f"server up on port {port}, pid {process.pid}", flush=True)
            return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start within 120 s")


def post_all(url: str, key: str, payloads: list[bytes], clients: int) -> tuple[float, list[dict[str, Any]]]:
    """Post every body once, spread over `clients` threads; the wall time and the answers."""
    import httpx

    answers: list[dict[str, Any]] = []
    failures: list[str] = []
    lock = threading.Lock()
    queue = list(enumerate(payloads))

    def client() -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        with httpx.Client(timeout=120, headers=headers) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    _, body = queue.pop()
                response = http.post(url, content=body)
                with lock:
                    if response.status_code == 200:
                        answers.append(response.json())
                    else:
                        failures.append(f"{response.status_code} {response.text[:300]}")

    threads = [threading.Thread(target=client) for _ in range(clients)]
    begin = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - begin
    if failures:
        raise SystemExit(f"{len(failures)} requests failed, e.g. {failures[0]}")
    return seconds, answers


def product_run(
    payloads: list[bytes], warmup: list[bytes], clients: int, workers: int, spend_alerts: bool = False
) -> tuple[float, str]:
    engine = bench_database("ingest_http")
    now = datetime.now(UTC)
    with engine.begin() as connection:
        # with alerts, every request's customers are evaluated after its answer (spend_notices)
        catalog = bench_catalog(("5.00", "50.00") if spend_alerts else ())
        save_catalog(connection, catalog, "benchmark", now)
        key = create_key(connection, "bench", now)
    url = engine.url.render_as_string(hide_password=False)
    port = free_port()
    env = {"BILLING_DATABASE_URL": url, "BILLING_API_RATE_LIMIT": "100000"}
    server = start(f"from billing.api.server import serve; serve('127.0.0.1', {port}, {workers})", env, port)
    try:
        endpoint = f"http://127.0.0.1:{port}/v1/events"
        post_all(endpoint, key, warmup, clients)  # connections, caches, the suite's first runs
        seconds, answers = post_all(endpoint, key, payloads, clients)
    finally:
        server.terminate()
        server.wait(300)  # spend alerts still being evaluated finish first
    accepted = sum(a["accepted"] for a in answers)
    if accepted != len(payloads) * BATCH or any(a["quarantined"] for a in answers):
        raise SystemExit(f"the clean batches were not stored whole: {accepted} accepted")
    engine.dispose()
    return seconds, url


def bare_run(payloads: list[bytes], warmup: list[bytes], clients: int, workers: int) -> float:
    engine = bench_database("ingest_http_bare")
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE bare_events (transaction_id text PRIMARY KEY, customer_id text, "
            "event_type text, timestamp timestamptz, properties jsonb)"
        )
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    port = free_port()
    code = (
        "import uvicorn; uvicorn.run('benchmarks.ingest_http:bare_served', factory=True, "
        f"host='127.0.0.1', port={port}, workers={workers}, log_level='warning')"
    )
    server = start(code, {"BARE_DSN": dsn}, port)
    try:
        endpoint = f"http://127.0.0.1:{port}/bare"
        post_all(endpoint, "-", warmup, clients)
        seconds, _ = post_all(endpoint, "-", payloads, clients)
    finally:
        server.terminate()
        server.wait(30)
    with engine.connect() as connection:
        stored = connection.exec_driver_sql("SELECT count(*) FROM bare_events").scalar_one()
    drop_bench_database(engine)
    if stored != (len(payloads) + len(warmup)) * BATCH:
        raise SystemExit(f"the baseline stored {stored} rows")
    return seconds


def bare_served() -> Any:
    """The baseline app of one server process (a factory, as uvicorn's workers need)."""
    return with_health(bare_app())


def with_health(app: Any) -> Any:
    async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/healthz":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return
        await app(scope, receive, send)

    return routed


# --- where one request's time goes -----------------------------------------------------------


def split_one_batch(url: str, payloads: list[bytes]) -> dict[str, float]:
    """Milliseconds of each part of handling one batch alone, in this process (best over
    `payloads`, each of new events: a repeated batch would time the duplicate path): parsing,
    the frame (Python's per-row work), Great Expectations, staging (canonical JSON, hashes),
    the billing lock, the COPY and merge, the rollups, verdicts and quarantine, the commit,
    and picking the customers with spend alerts (their evaluation runs after the answer)."""
    from billing.api.event_records import _batch
    from billing.api.request_body import parsed_json
    from billing.runtime.resources import engine_for
    from billing.services import ingest
    from billing.store import event_merge, rollups
    from billing.store import usage_events as store
    from billing.store.catalog_versions import active_catalog
    from billing.store.database import lock_billing
    from billing.validation.suite import EventSuite

    engine = engine_for(url)
    with engine.connect() as connection:
        catalog = active_catalog(connection).catalog
    suite = EventSuite()
    now = datetime.now(UTC)
    best: dict[str, float] = {}

    def keep(name: str, ms: float) -> None:
        best[name] = min(best.get(name, float("inf")), ms)

    @contextlib.contextmanager
    def part(name: str) -> Iterator[None]:
        begin = time.perf_counter()
        yield
        keep(name, (time.perf_counter() - begin) * 1000)

    for payload in payloads:
        with part("request_ms"):
            with part("parse_ms"):
                records = _batch("application/json", parsed_json(payload)).records
            prepared = ingest.prepare_chunk(catalog, suite, records, "bench", now)
            stats = prepared.checked.report.validation
            keep("frame_ms", (stats.seconds - stats.suite_seconds) * 1000)
            keep("gx_ms", stats.suite_seconds * 1000)
            with part("stage_ms"):
                event_merge.stage(prepared.candidates)  # done once more, to time it alone
            with engine.connect() as connection:
                transaction = connection.begin()
                with part("lock_ms"):
                    lock_billing(connection)
                chunk = prepared.checked.copy()
                with part("merge_ms"):
                    merged = event_merge.merge_events(connection, prepared.staged, now)
                with part("rollups_ms"):
                    rollups.add_events_after(connection, merged.after_id)
                with part("quarantine_ms"):
                    ingest._record_verdicts(chunk, merged, prepared.candidates)
                    store.insert_quarantined_isolating(connection, chunk.quarantine_rows)
                with part("commit_ms"):
                    transaction.commit()
            with part("alerts_ms"):
                alerting = [c for c in chunk.report.customers if catalog.customer(c).spend_alerts]
        assert chunk.report.accepted == BATCH and not alerting
    engine.dispose()
    return {name: round(ms, 1) for name, ms in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=120, help="timed batches per server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="server processes (both servers)")
    parser.add_argument("--spend-alerts", action="store_true", help="give every customer spend alerts")
    args = parser.parse_args()
    now = datetime.now(UTC)
    payloads = bodies(args.batches, "evt", now)
    warmup = bodies(args.clients * 2, "warm", now)
    events = args.batches * BATCH
    size = sum(map(len, payloads)) / len(payloads) / 1024
    print(
        f"{args.batches} batches of {BATCH:,} events ({size:.0f} KiB each), {args.clients} clients",
        flush=True,
    )
    bare_seconds = bare_run(payloads, warmup, args.clients, args.workers)
    print(f"bare parse + COPY endpoint: {events / bare_seconds:,.0f} events/s", flush=True)
    seconds, url = product_run(payloads, warmup, args.clients, args.workers, args.spend_alerts)
    print(f"POST /v1/events: {events / seconds:,.0f} events/s", flush=True)
    split = split_one_batch(url, bodies(5, "split", now))
    drop_bench_database(bench_database_engine(url))
    print(f"one batch in-process, ms: {split}", flush=True)
    report(
        {
            "bench": "ingest_http",
            "http_events_per_s": round(events / seconds),
            "bare_events_per_s": round(events / bare_seconds),
            "ratio": round(bare_seconds / seconds, 2),
            "clients": args.clients,
            "workers": args.workers,
            "batch": BATCH,
            **split,
            "gx_share": round(split["gx_ms"] / split["request_ms"], 2),
        }
    )


def bench_database_engine(url: str) -> Any:
    from billing.store.database import create_engine

    return create_engine(url)


if __name__ == "__main__":
    main()
