"""Rating benchmark: a dry invoice run of 10,000 customers, against the bare aggregate query.

Loads 1,000,000 events across 10,000 customers and 5 metrics (one per aggregation, two with
filters; plans using every charge model) into PostgreSQL (untimed), then times what an invoice
run does: `billing.services.invoice_run.invoice_customers` as a dry run, in the chunks the
`run-invoices` flow hands its tasks (billing states, the invoice plan, metering in SQL, drafting
every due invoice, nothing written), for an instant just after every customer's first period
closed. The baseline is one bare query computing the same aggregates per customer on the same
data, run over as many connections at once as the invoice run meters on; the single-connection
figure is printed too. Best of 3 each, in the same run. The totals are checked against the pure
core drafting the same invoices from the bare query's aggregates. The SQLite figure is printed
for information.

    python benchmarks/rating.py [--customers N] [--events N] [--runs N] [--no-sqlite]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, best_of, drop_bench_database, peak_rss_mb, report
from billing.core.catalog import Catalog, parse_catalog
from billing.core.invoice_plan import BillingState, draft_invoices, plan_invoices
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.runtime import resources
from billing.runtime.settings import Settings
from billing.services.invoice_run import InvoiceRunReport, invoice_customers
from billing.store import rollups
from billing.store.catalog_versions import StoredCatalog, save_catalog
from billing.store.database import create_engine, lock_billing, upgrade
from flows.invoices import CUSTOMERS_PER_TASK
from tests.bulk import bulk_load_events

# Every customer's first period (anchored Sep 21 to Oct 18) has closed and its invoice is past
# the grace period; no second period has closed yet.
AS_OF = datetime(2026, 11, 19, 12, tzinfo=UTC)
GRACE = timedelta(hours=24)

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

# The five aggregates per customer, and the count of `llm` events the percentage charge prices
# per transaction: what the invoice run's metering computes, without segments or pricing.
BASELINE = """
SELECT customer_id,
       count(*) FILTER (WHERE event_type = 'api_call'),
       sum(CAST(properties ->> 'tokens' AS numeric)) FILTER (WHERE event_type = 'llm'),
       count(*) FILTER (WHERE event_type = 'llm'),
       max(CAST(properties ->> 'gb' AS numeric))
           FILTER (WHERE event_type = 'storage' AND properties @> '{"region":"eu"}'),
       count(DISTINCT properties -> 'user')
           FILTER (WHERE event_type = 'login' AND properties @> '{"app":"web"}'),
       (array_agg(CAST(properties ->> 'seats' AS numeric) ORDER BY "timestamp" DESC, transaction_id DESC)
           FILTER (WHERE event_type = 'seat'))[1]
FROM events
{where}
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


def invoice_run(engine: sa.Engine, stored: StoredCatalog, ids: Sequence[str]) -> InvoiceRunReport:
    """What `run-invoices --dry-run` does for these customers, without Prefect around it."""
    report = InvoiceRunReport(dry_run=True)
    for start in range(0, len(ids), CUSTOMERS_PER_TASK):
        chunk = ids[start : start + CUSTOMERS_PER_TASK]
        report.add(
            invoice_customers(engine, stored, chunk, AS_OF, grace=GRACE, due_days=30, now=AS_OF, dry_run=True)
        )
    return report


def baseline_run(engine: sa.Engine, ids: Sequence[str], connections: int) -> list:
    """The bare query; over several connections, each computes the same query for its share."""
    if connections == 1:
        with engine.connect() as connection:
            return connection.execute(sa.text(BASELINE.replace("{where}", ""))).all()
    size = -(-len(ids) // connections)
    shares = [list(ids[i : i + size]) for i in range(0, len(ids), size)]
    query = sa.text(BASELINE.replace("{where}", "WHERE customer_id = ANY(:ids)"))

    def share_rows(share: list[str]) -> list:
        with engine.connect() as connection:
            return connection.execute(query, {"ids": share}).all()

    with ThreadPoolExecutor(max_workers=len(shares)) as pool:
        return [row for rows in pool.map(share_rows, shares) for row in rows]


def check_totals(catalog: Catalog, run: InvoiceRunReport, baseline: list) -> int:
    """Each customer's invoices total what the pure core drafts from the bare query's
    aggregates; returns the number of invoices."""
    codes = [m["code"] for m in METRICS]
    assert not run.failures, run.failures
    totals: dict[str, Decimal] = {}
    for outcome in run.outcomes:
        totals[outcome.customer_id] = totals.get(outcome.customer_id, Decimal(0)) + outcome.total
    assert len(baseline) == len(totals), (len(baseline), len(totals))
    for customer_id, calls, tokens, llm, gb, users, seats in baseline:
        values = dict(zip(codes, (calls, tokens, gb, users, seats), strict=True))
        metered = {code: MeteredUsage(Decimal(v or 0), 0) for code, v in values.items()}
        metered["api_calls"] = MeteredUsage(Decimal(calls), calls)
        metered["tokens"] = MeteredUsage(Decimal(tokens or 0), llm)
        schedule = Schedule.of(catalog, customer_id)
        state = BillingState()
        plan = plan_invoices(schedule, state, AS_OF)
        usage = {(s.start, s.end): metered for s in plan.segments(schedule)}
        drafts = draft_invoices(
            catalog, schedule, plan, usage, state, final=lambda d: d.issued_at + GRACE <= AS_OF
        )
        expected = sum((d.total for _, d in drafts if d is not None), Decimal(0))
        assert totals[customer_id] == expected, (customer_id, totals[customer_id], expected)
    return len(run.outcomes)


def store_catalog(engine: sa.Engine, catalog: Catalog) -> StoredCatalog:
    """Save the catalog, then load it as invoice tasks do (`resources.catalog`)."""
    with engine.begin() as connection:
        save_catalog(connection, catalog, "benchmark", datetime(2026, 9, 1, tzinfo=UTC))
    return resources.catalog(Settings(database_url=engine.url.render_as_string(hide_password=False)))


def load_data(
    engine: sa.Engine, catalog: Catalog, anchors: dict[str, date], total: int, with_rollups: bool = False
) -> StoredCatalog:
    """The catalog and `total` events across its customers, analyzed (untimed). The bulk load
    bypasses ingest, so the usage rollups are stale and runs meter raw events, unless
    `with_rollups` catches them up (then runs read the rollups)."""
    started = time.perf_counter()
    stored = store_catalog(engine, catalog)
    bulk_load_events(engine, events(len(anchors), total, anchors, seed=2))
    if with_rollups:
        with engine.begin() as connection:
            lock_billing(connection)
            rollups.add_events_after(connection, 0)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE events"))
        connection.execute(sa.text("VACUUM ANALYZE usage_rollups"))
        connection.execute(sa.text("VACUUM ANALYZE usage_rollup_values"))
    loaded = time.perf_counter() - started
    print(f"loaded {total:,} events for {len(anchors):,} customers in {loaded:.1f}s (untimed)")
    return stored


def sqlite_seconds(catalog: Catalog, ids: list[str], rows: Iterator[tuple]) -> float:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/bench.db")
        upgrade(engine)
        stored = store_catalog(engine, catalog)
        bulk_load_events(engine, rows)
        with engine.connect() as connection:
            connection.execute(sa.text("ANALYZE"))
        seconds, _ = best_of(1, lambda: invoice_run(engine, stored, ids))
        engine.dispose()
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timings of each, the best counts")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--rollups", action="store_true", help="catch the rollups up: runs read them")
    args = parser.parse_args()

    catalog, anchors = build_catalog(args.customers, random.Random(1))
    ids = list(anchors)
    connections = 1
    engine = bench_database("rating")
    try:
        stored = load_data(engine, catalog, anchors, args.events, args.rollups)

        first, _ = best_of(1, lambda: invoice_run(engine, stored, ids))  # lays out schedules
        runs = args.runs
        baseline_seconds, baseline = best_of(runs, lambda: baseline_run(engine, ids, connections))
        seconds, run = best_of(runs, lambda: invoice_run(engine, stored, ids))
        single, _ = best_of(runs, lambda: baseline_run(engine, ids, 1))
        invoices = check_totals(catalog, run, baseline)
        ratio = seconds / baseline_seconds
        print(
            f"bare SQL query, 5 aggregates per customer, {connections} connection(s): "
            f"{baseline_seconds:.3f}s (best of {runs})"
        )
        print(f"dry invoice run, {invoices:,} invoices: {seconds:.3f}s (best of {runs})")
        print(f"ratio: {ratio:.2f} (target <= 1.25); peak RSS {peak_rss_mb():.0f} MB (target < 1024)")
        print(f"for information: the bare query on one connection: {single:.3f}s ({seconds / single:.2f}x)")
        print(f"for information: the first run, schedules not yet laid out: {first:.3f}s")
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
            "single_connection_baseline_seconds": round(single, 4),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    )


if __name__ == "__main__":
    main()
