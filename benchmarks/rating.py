"""Rating benchmark: every customer's whole period, against one bare SQL query.

Loads 1,000,000 events across 10,000 customers and 5 metrics (one per aggregation, two with
filters; plans using every charge model) into PostgreSQL (untimed), then times the engine —
`billing.current_period.rate_current_periods`: meter every customer's current period in SQL,
price it, build the invoice lines, write nothing — against one bare query computing the same
five aggregates per customer, best of 3 each, in the same run on the same data, and checks
that both found the same quantities. The SQLite figure is printed for information.

    python benchmarks/rating.py [--customers N] [--events N] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, best_of, drop_bench_database, peak_rss_mb, report
from billing.core.catalog import Catalog, parse_catalog
from billing.current_period import rate_current_periods
from billing.store.database import create_engine, upgrade
from tests.bulk import bulk_load_events

AT = datetime(2026, 10, 20, tzinfo=UTC)  # every customer's period holds this instant
ZONES = ["UTC", "America/New_York", "Europe/Paris", "Asia/Tokyo"]

METRICS = [
    {"code": "api_calls", "event_type": "api_call", "aggregation": "count"},
    {"code": "tokens", "event_type": "llm", "aggregation": "sum", "field": "tokens"},
    {
        "code": "storage_gb",
        "event_type": "storage",
        "aggregation": "max",
        "field": "gb",
        "filters": {"region": "eu"},
    },
    {
        "code": "users",
        "event_type": "login",
        "aggregation": "unique_count",
        "field": "user",
        "filters": {"app": "web"},
    },
    {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "seats"},
]
TIERS = [
    {"up_to": 10, "unit_price": "1.25"},
    {"up_to": 100, "unit_price": "0.9"},
    {"up_to": None, "unit_price": "0.5"},
]
PLANS = [
    {
        "code": "a",
        "interval": "monthly",
        "minimum_commitment": "50.00",
        "charges": [
            {"model": "flat", "amount": "30.00"},
            {"model": "per_unit", "metric": "api_calls", "unit_price": "0.012"},
            {
                "model": "package",
                "metric": "tokens",
                "package_size": 1000,
                "package_price": "0.40",
                "free_units": 500,
            },
            {"model": "graduated", "metric": "storage_gb", "tiers": TIERS},
            {"model": "volume", "metric": "users", "tiers": TIERS},
            {"model": "per_unit", "metric": "seats", "unit_price": "9.00"},
        ],
    },
    {
        "code": "b",
        "interval": "monthly",
        "charges": [
            {"model": "flat", "amount": "99.00", "timing": "in_arrears"},
            {"model": "graduated", "metric": "api_calls", "tiers": TIERS},
            {"model": "percentage", "metric": "tokens", "rate": "0.25", "per_transaction_fee": "0.001"},
            {"model": "volume", "metric": "storage_gb", "tiers": TIERS},
            {"model": "package", "metric": "users", "package_size": 5, "package_price": "10"},
            {"model": "graduated", "metric": "seats", "tiers": TIERS},
        ],
    },
]

BASELINE = """
SELECT customer_id,
       count(*) FILTER (WHERE event_type = 'api_call'),
       sum(CAST(properties ->> 'tokens' AS numeric)) FILTER (WHERE event_type = 'llm'),
       max(CAST(properties ->> 'gb' AS numeric))
           FILTER (WHERE event_type = 'storage' AND properties @> '{"region":"eu"}'),
       count(DISTINCT properties -> 'user')
           FILTER (WHERE event_type = 'login' AND properties @> '{"app":"web"}'),
       (array_agg(CAST(properties ->> 'seats' AS numeric) ORDER BY "timestamp" DESC, transaction_id DESC)
           FILTER (WHERE event_type = 'seat'))[1]
FROM events
GROUP BY customer_id
"""


def build_catalog(customers: int, rng: random.Random) -> tuple[Catalog, dict[str, date]]:
    rows, anchors = [], {}
    for n in range(customers):
        start = date(2026, 9, 21) + timedelta(days=rng.randrange(28))  # periods hold Oct 20
        cid = f"cust-{n:05d}"
        anchors[cid] = start
        rows.append(
            {
                "id": cid,
                "email": f"{cid}@bench.example",
                "timezone": ZONES[n % len(ZONES)],
                "contracts": [{"plan": PLANS[n % len(PLANS)]["code"], "starts_on": start.isoformat()}],
            }
        )
    catalog = parse_catalog({"currency": "USD", "metrics": METRICS, "plans": PLANS, "customers": rows})
    return catalog, anchors


def events(customers: int, total: int, anchors: dict[str, date], seed: int) -> Iterator[tuple]:
    rng = random.Random(seed)
    ids = list(anchors)
    per_customer = total // customers
    for n in range(per_customer * customers):
        cid = ids[n % customers]
        start = datetime.combine(anchors[cid], datetime.min.time(), UTC) + timedelta(days=1)
        at = start + timedelta(seconds=rng.randrange(27 * 86400))
        kind = n % 5
        if kind == 0:
            yield (f"e{n}", cid, "api_call", at, '{"path":"/v1/x"}')
        elif kind == 1:
            yield (f"e{n}", cid, "llm", at, f'{{"tokens":{rng.randrange(1, 5000)}.{rng.randrange(10)}}}')
        elif kind == 2:
            region = "eu" if rng.random() < 0.7 else "us"
            yield (
                f"e{n}",
                cid,
                "storage",
                at,
                f'{{"gb":{rng.randrange(1, 500)}.{rng.randrange(100):02d},"region":"{region}"}}',
            )
        elif kind == 3:
            app = "web" if rng.random() < 0.8 else "cli"
            yield (f"e{n}", cid, "login", at, f'{{"app":"{app}","user":"u{rng.randrange(60)}"}}')
        else:
            yield (f"e{n}", cid, "seat", at, f'{{"seats":{rng.randrange(1, 40)}}}')


def engine_run(engine: sa.Engine, catalog: Catalog, ids: list[str], connections: int = 2) -> dict:
    return rate_current_periods(engine, catalog, ids, AT, connections)


def baseline_run(engine: sa.Engine) -> list:
    with engine.connect() as connection:
        return connection.execute(sa.text(BASELINE)).all()


def check_same_aggregates(rated: dict, baseline: list) -> int:
    """The engine's quantities equal the bare query's, customer by customer; returns lines built."""
    codes = [m["code"] for m in METRICS]
    for row in baseline:
        usage = rated[row[0]].usage[0]
        expected = [Decimal(v or 0) for v in row[1:]]
        assert [usage[c].quantity for c in codes] == expected, (row[0], usage, row)
    return sum(len(c.lines) for r in rated.values() for c in r.charges)


def sqlite_seconds(catalog: Catalog, ids: list[str], rows: Iterator[tuple]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        bulk_load_events(engine, rows)
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
        seconds, _ = best_of(1, lambda: engine_run(engine, catalog, ids))
        engine.dispose()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()

    catalog, anchors = build_catalog(args.customers, random.Random(1))
    ids = list(anchors)
    engine = bench_database("rating")
    try:
        started = time.perf_counter()
        bulk_load_events(engine, events(args.customers, args.events, anchors, seed=2))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE events"))
        loaded = time.perf_counter() - started
        print(f"loaded {args.events:,} events for {args.customers:,} customers in {loaded:.1f}s (untimed)")

        baseline_seconds, baseline = best_of(3, lambda: baseline_run(engine))
        first, _ = best_of(1, lambda: engine_run(engine, catalog, ids))  # lays out the schedules
        seconds, rated = best_of(3, lambda: engine_run(engine, catalog, ids))
        single, _ = best_of(3, lambda: engine_run(engine, catalog, ids, connections=1))
        lines = check_same_aggregates(rated, baseline)
        ratio = seconds / baseline_seconds
        print(f"bare SQL query, 5 aggregates per customer:     {baseline_seconds:.3f}s (best of 3)")
        print(f"engine: meter + price + {lines:,} invoice lines: {seconds:.3f}s (best of 3)")
        print(f"ratio: {ratio:.2f} (target <= 1.25); peak RSS {peak_rss_mb():.0f} MB (target < 1024)")
        print(f"for information: the first run, schedules not yet laid out: {first:.3f}s")
        print(
            f"for information: the engine on one connection: {single:.3f}s ({single / baseline_seconds:.2f}x)"
        )
    finally:
        drop_bench_database(engine)
    if not args.no_sqlite:
        sqlite = sqlite_seconds(catalog, ids, events(args.customers, args.events, anchors, seed=2))
        print(f"for information: SQLite (embedded default), same data, one run: {sqlite:.3f}s")
    report(
        {
            "bench": "rating",
            "seconds": round(seconds, 4),
            "baseline_seconds": round(baseline_seconds, 4),
            "ratio": round(ratio, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


if __name__ == "__main__":
    main()
