"""Rollups benchmark: what keeping the usage rollups costs an ingest, on PostgreSQL.

Writes a clean file (as `benchmarks/ingest.py` does: 1,000 customers, five metrics, one per
aggregation), then ingests it chunk by chunk through `ingest_records` twice into fresh databases:
once with the catalog's rollups maintained, once with none (the signatures removed). Times the
whole chunk (parse, Great Expectations, lookups, insert) and, separately, the rollups' share
(`add_events_after`). Best of N runs each. The last line is one JSON object of the figures.

With `--day-events N` it measures instead what a small chunk costs once its day already holds
many events (an HTTP batch late in the day): N events of the benchmark's five metrics are
ingested into the last UTC day of the period (1,000 customers), then `--batches` chunks of
`--batch-size` events into that same day, each timed whole and in its rollup pass; the medians
are reported.

    python benchmarks/rollups.py [--events N] [--chunk-size N] [--runs N]
    python benchmarks/rollups.py --day-events 100000 [--batches 20] [--batch-size 1000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, report
from benchmarks.ingest import NOW, bench_catalog, clean_rows, write_events
from billing.services.ingest import ingest_records
from billing.sources.raw_records import RawRecord
from billing.sources.usage_files import read_chunks
from billing.store import rollups
from billing.store.catalog_versions import save_catalog
from billing.store.models import RollupSignature
from billing.validation.suite import EventSuite


def run(path: Path, chunk_size: int, maintained: bool, suite: EventSuite) -> tuple[float, float, int]:
    """Seconds ingesting, seconds of them in the rollups, events stored."""
    engine = bench_database("rollups")
    catalog = bench_catalog()
    with engine.begin() as connection:
        save_catalog(connection, catalog, "benchmark", NOW)
        if not maintained:
            connection.execute(sa.delete(RollupSignature))
    spent = [0.0]
    original = rollups.add_events_after

    def timed(connection: sa.Connection, after_id: int) -> None:
        start = time.perf_counter()
        original(connection, after_id)
        spent[0] += time.perf_counter() - start

    rollups.add_events_after = timed  # type: ignore[assignment]
    try:
        start = time.perf_counter()
        stored = 0
        for records in read_chunks(str(path), chunk_size):
            stored += ingest_records(engine, catalog, suite, records, str(path), NOW).accepted
        seconds = time.perf_counter() - start
    finally:
        rollups.add_events_after = original  # type: ignore[assignment]
    drop_bench_database(engine)
    return seconds, spent[0], stored


def day_rows() -> Iterator[RawRecord]:
    """The benchmark's rows (customers, metrics, values), every one in the last UTC day of the
    period, spread over its quarter-hours."""
    day = NOW - timedelta(days=1)
    for n, row in enumerate(clean_rows(100_000_000)):
        at = day + timedelta(microseconds=(n * 7_919_993) % 86_400_000_000)
        row["transaction_id"] = f"day_{n:09d}"
        row["timestamp"] = at.isoformat().replace("+00:00", "Z")
        yield RawRecord(n, text=json.dumps(row))


def run_day(stored: int, batches: int, batch_size: int, suite: EventSuite) -> tuple[float, float]:
    """Median seconds of one batch into a day already holding `stored` events, and of its rollups."""
    engine = bench_database("rollups_day")
    catalog = bench_catalog()
    with engine.begin() as connection:
        save_catalog(connection, catalog, "benchmark", NOW)
    rows = day_rows()
    loaded = 0
    while loaded < stored:
        chunk = [next(rows) for _ in range(min(50_000, stored - loaded))]
        loaded += ingest_records(engine, catalog, suite, chunk, "preload", NOW).accepted
    spent = [0.0]
    original = rollups.add_events_after

    def timed(connection: sa.Connection, after_id: int) -> None:
        start = time.perf_counter()
        original(connection, after_id)
        spent[0] += time.perf_counter() - start

    rollups.add_events_after = timed  # type: ignore[assignment]
    whole, in_rollups = [], []
    try:
        for _ in range(batches):
            chunk = [next(rows) for _ in range(batch_size)]
            spent[0] = 0.0
            start = time.perf_counter()
            accepted = ingest_records(engine, catalog, suite, chunk, "batch", NOW).accepted
            whole.append(time.perf_counter() - start)
            in_rollups.append(spent[0])
            assert accepted == batch_size
    finally:
        rollups.add_events_after = original  # type: ignore[assignment]
    drop_bench_database(engine)
    return statistics.median(whole), statistics.median(in_rollups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--day-events", type=int, default=0, help="events already in the day")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1_000)
    args = parser.parse_args()
    if args.day_events:
        main_day(args)
        return
    suite = EventSuite()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        write_events(path, args.events)
        without = min(run(path, args.chunk_size, False, suite)[0] for _ in range(args.runs))
        timings = [run(path, args.chunk_size, True, suite) for _ in range(args.runs)]
    seconds, in_rollups, stored = min(timings)
    assert stored == args.events
    print(f"without rollups: {args.events / without:,.0f} events/s ({without:.2f}s)")
    print(
        f"with rollups:    {args.events / seconds:,.0f} events/s ({seconds:.2f}s, {in_rollups:.2f}s in them)"
    )
    report(
        {
            "bench": "rollups",
            "events": args.events,
            "chunk_size": args.chunk_size,
            "events_per_s_without": round(args.events / without),
            "events_per_s_with": round(args.events / seconds),
            "rollup_seconds_per_chunk": round(in_rollups / max(1, args.events // args.chunk_size), 3),
            "ratio": round(without / seconds, 3),
        }
    )


def main_day(args: argparse.Namespace) -> None:
    batch, in_rollups = run_day(args.day_events, args.batches, args.batch_size, EventSuite())
    print(
        f"a {args.batch_size:,}-event batch into a day holding {args.day_events:,}: "
        f"{batch * 1000:.0f} ms, {in_rollups * 1000:.0f} ms of it in the rollups (medians of {args.batches})"
    )
    report(
        {
            "bench": "rollups_day",
            "day_events": args.day_events,
            "batch_size": args.batch_size,
            "batch_ms": round(batch * 1000, 1),
            "rollup_ms": round(in_rollups * 1000, 1),
            "rollup_share": round(in_rollups / batch, 3),
        }
    )


if __name__ == "__main__":
    main()
