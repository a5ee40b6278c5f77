"""Lifecycle benchmark: the daily scan over 100,000 contracts, with nothing due and with 1% due,
against one indexed SQL query selecting the due contracts from a plain table.

Builds a catalog of `--customers` customers, one contract each, in four zones (UTC, Kolkata,
Los Angeles, Berlin): trials (some over, some to come), yearly auto-renewing terms started one
to three years ago, fixed yearly terms, open-ended monthly contracts, and 1% of yearly
auto-renewing contracts whose 30-day renewal reminder fires on day D. It is saved as a catalog
version (untimed: that lays the lifecycle calendar out), and a first scan at T0 (the day before
D, at noon UTC) decides the history (untimed, printed: the first scan after a first load).

Timed, best of `--runs`, through `billing.services.lifecycle_scan.scan_reminders`, the function
the `scan-lifecycle` flow's task calls:
- nothing due: the daily scan at T0 again (every row's next occurrence is later);
- 1% due: the scan at the end of day D, each run from the same state (the ledger rows it wrote
  deleted and the calendar restored from a copy, untimed): it decides the due rows, enqueues
  them, and steps each on to its next occurrence.
Baseline: `SELECT customer_id FROM plain_contracts WHERE next_due_at < :as_of`, a plain table of
the same contracts holding each one's next notice instant, indexed, on the same engine (one
pooled connection, as the scan), selecting what is due at T0 (nothing) and at the end of D.

    python benchmarks/lifecycle.py [--customers N] [--runs N]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, best_of, drop_bench_database, report
from billing.core.catalog import Catalog, parse_catalog
from billing.services.lifecycle_scan import ScanReport, scan_reminders
from billing.services.spend_alerts import evaluate_spend_since_last
from billing.store.catalog_versions import save_catalog

DAY = date(2026, 9, 1)  # D: the day the 1% fire
T0 = datetime(2026, 8, 31, 12, tzinfo=UTC)  # before D's midnight in every zone used
T1 = datetime(2026, 9, 2, tzinfo=UTC)  # the end of D, UTC: D has begun in every zone
ZONES = ("UTC", "Asia/Kolkata", "America/Los_Angeles", "Europe/Berlin")
NOW = datetime(2026, 8, 1, tzinfo=UTC)
WRITTEN = ("notification_deliveries", "notifications")


def build_catalog(customers: int, seed: int = 7) -> Catalog:
    """One contract per customer; see the module's docstring for the mix."""
    rng = random.Random(seed)
    rows = []
    for i in range(customers):
        contract = _contract(i, rng)
        rows.append(
            {
                "id": f"c{i:06d}",
                "email": f"c{i}@bench.example",
                "timezone": ZONES[i % 4],
                "spend_alerts": ["1000.00"],  # every customer: the scan's spend part checks each
                "contracts": [contract],
            }
        )
    charges = [{"model": "flat", "amount": "30.00"}]
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "trial",
                    "name": "Trial",
                    "interval": "monthly",
                    "trial_days": 14,
                    "charges": charges,
                },
                {
                    "code": "pro",
                    "name": "Pro",
                    "interval": "monthly",
                    "charges": charges,
                    "minimum_commitment": "50.00",
                },
                {"code": "year", "name": "Yearly", "interval": "yearly", "charges": charges},
            ],
            "customers": rows,
        },
        "bench",
    )


def _contract(i: int, rng: random.Random) -> dict[str, Any]:
    slot = i % 100
    if slot == 0:  # the 1%: a yearly term renewing 30 days after D, its reminder firing on D
        return _on("year", DAY + timedelta(days=30) - timedelta(days=365), auto_renew=True, term_months=12)
    if slot <= 12:  # trials over (their notices are history at T0)
        return _on("trial", DAY - timedelta(days=rng.randint(30, 700)))
    if slot <= 24:  # trials to come
        return _on("trial", DAY + timedelta(days=rng.randint(40, 400)))
    if slot <= 61:  # yearly auto-renewing, started 1 to 3 years ago, next renewal 35+ days after D
        start = DAY + timedelta(days=rng.randint(35, 330)) - timedelta(days=365 * rng.randint(1, 3))
        return _on("year", start, auto_renew=True, term_months=12)
    if slot <= 81:  # fixed yearly terms, ending 35+ days after D
        return _on("pro", DAY + timedelta(days=rng.randint(35, 330)) - timedelta(days=365), term_months=12)
    return _on("pro", DAY - timedelta(days=rng.randint(1, 900)))  # open-ended: no notice


def _on(plan: str, starts_on: date, **terms: Any) -> dict[str, Any]:
    return {"plan": plan, "starts_on": starts_on.isoformat(), **terms}


def baseline_table(connection: sa.Connection) -> None:
    """The same contracts in a plain table: each one's next notice instant, indexed."""
    connection.execute(sa.text("DROP TABLE IF EXISTS plain_contracts"))
    connection.execute(
        sa.text(
            "CREATE TABLE plain_contracts AS SELECT c.id AS customer_id, min(l.fires_at) AS next_due_at "
            "FROM customers c LEFT JOIN lifecycle_calendar l ON l.customer_id = c.id GROUP BY c.id"
        )
    )
    connection.execute(
        sa.text("CREATE INDEX ix_plain_contracts_next_due_at ON plain_contracts (next_due_at)")
    )


def baseline(engine: sa.Engine, as_of: datetime) -> int:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT customer_id FROM plain_contracts WHERE next_due_at < :as_of"), {"as_of": as_of}
        ).all()
    return len(rows)


def snapshot(engine: sa.Engine) -> int:
    """Keep the calendar as it stands (to restore it between timed runs); the ledger's last id."""
    with engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE IF EXISTS calendar_copy"))
        connection.execute(sa.text("CREATE TABLE calendar_copy AS SELECT * FROM lifecycle_calendar"))
        return int(connection.scalar(sa.text("SELECT coalesce(max(id), 0) FROM notifications")) or 0)


def restore(engine: sa.Engine, last_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("DELETE FROM notification_deliveries WHERE notification_id > :id"), {"id": last_id}
        )
        connection.execute(sa.text("DELETE FROM notifications WHERE id > :id"), {"id": last_id})
        connection.execute(sa.text("DELETE FROM lifecycle_calendar"))
        connection.execute(sa.text("INSERT INTO lifecycle_calendar SELECT * FROM calendar_copy"))
    vacuum(engine)


def vacuum(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            sa.text("VACUUM ANALYZE lifecycle_calendar, notifications, notification_deliveries")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=30, help="timed runs of the nothing-due scan (best of)")
    args = parser.parse_args()
    engine = bench_database("lifecycle")
    try:
        started = time.perf_counter()
        catalog = build_catalog(args.customers)
        with engine.begin() as connection:
            stored = save_catalog(connection, catalog, "bench", NOW)
            held = int(connection.scalar(sa.text("SELECT count(*) FROM lifecycle_calendar")) or 0)
        print(
            f"catalog of {args.customers} contracts built and saved: {held} calendar rows "
            f"({time.perf_counter() - started:.1f} s, untimed)"
        )

        def scan(as_of: datetime) -> ScanReport:
            return scan_reminders(engine, as_of, NOW, False, stored.id)

        started = time.perf_counter()
        history = scan(T0)
        print(
            f"first scan at {T0.isoformat()} (history): {len(history.due)} due, "
            f"{len(history.skipped)} skipped ({time.perf_counter() - started:.2f} s, untimed)"
        )
        with engine.begin() as connection:
            baseline_table(connection)
        vacuum(engine)
        last_id = snapshot(engine)

        seconds, quiet = best_of(args.runs, lambda: scan(T0))
        assert not quiet.due and not quiet.skipped, "the nothing-due scan found something due"
        baseline_seconds, none_due = best_of(args.runs, lambda: baseline(engine, T0))
        assert none_due == 0
        print(
            f"nothing due: scan {seconds * 1e3:.3f} ms, baseline query {baseline_seconds * 1e3:.3f} ms, "
            f"ratio {seconds / baseline_seconds:.2f}"
        )

        due_runs = max(3, args.runs // 10)
        timings = []
        for _ in range(due_runs):
            restore(engine, last_id)
            start = time.perf_counter()
            busy = scan(T1)
            timings.append(time.perf_counter() - start)
        due_seconds = min(timings)
        assert len(busy.due) == args.customers // 100 and busy.new == len(busy.due), (len(busy.due), busy.new)
        due_baseline, selected = best_of(args.runs, lambda: baseline(engine, T1))
        print(
            f"1% due ({len(busy.due)} of {args.customers}): scan {due_seconds * 1e3:.1f} ms "
            f"({due_seconds / len(busy.due) * 1e6:.0f} µs per due notice: decided, enqueued, stepped on); "
            f"baseline query selecting them ({selected} rows) {due_baseline * 1e3:.2f} ms"
        )
        # the scan's other part (the flow's next task): spend and credit kinds for the customers
        # with usage or invoices since their last evaluation, here none (no usage at all); the
        # catalog is parsed once per worker process (cached by version), as a served scan runs
        restore(engine, last_id)
        started = time.perf_counter()
        first = evaluate_spend_since_last(engine, catalog, T0, NOW)
        print(f"spend: first evaluation of every customer ({time.perf_counter() - started:.1f} s, untimed)")
        spend_seconds, spent = best_of(
            max(3, args.runs // 10), lambda: evaluate_spend_since_last(engine, catalog, T0, NOW)
        )
        assert not spent.due and spent.evaluated == 0, ("nothing new, yet evaluated", spent.evaluated)
        print(
            f"spend part with nothing new ({args.customers} customers with alerts, first run found "
            f"{len(first.due)} due): {spend_seconds * 1e3:.1f} ms"
        )
        report(
            {
                "bench": "lifecycle",
                "spend_seconds": round(spend_seconds, 6),
                "seconds": round(seconds, 6),
                "baseline_seconds": round(baseline_seconds, 6),
                "ratio": round(seconds / baseline_seconds, 3),
                "due_1pct_seconds": round(due_seconds, 6),
            }
        )
    finally:
        drop_bench_database(engine)


if __name__ == "__main__":
    main()
