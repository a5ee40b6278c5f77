"""Rollups benchmark: what keeping the usage rollups costs an ingest, on PostgreSQL.

Writes a clean file (as `benchmarks/ingest.py` does: 1,000 customers, five metrics, one per
aggregation), then ingests it chunk by chunk through `ingest_records` twice into fresh databases:
once with the catalog's rollups maintained, once with none (the signatures removed). Times the
whole chunk (parse, Great Expectations, lookups, insert) and, separately, the rollups' share
(`add_events_after`). Best of N runs each. The last line is one JSON object of the figures.

    python benchmarks/rollups.py [--events N] [--chunk-size N] [--runs N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import bench_database, drop_bench_database, report
from benchmarks.ingest import NOW, bench_catalog, write_events
from billing.services.ingest import ingest_records
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
