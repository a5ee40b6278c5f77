"""Ingest benchmark: a clean 1,000,000-row JSONL file through the product's path, against COPY.

Writes a clean file (untimed: 1,000 customers, five event types, every row good), loads a
catalog, then times, first, the baseline: one connection parses each line with the standard
`json` module and COPYs the rows into a bare table with a unique key on transaction_id, in one
transaction. Then, on the same file, the product itself: the `ingest-usage` flow, in-process on
Prefect's test harness (its start not timed), into a fresh PostgreSQL database: reading the file,
the inbox ledger's hash, each chunk's `validate-chunk` task (exact decimals, catalog checks, the
Great Expectations suite) overlapping the previous chunk's `store-chunk` task (COPY into staging,
the set-based merge: customers, duplicates, conflicts, lateness, the insert, rollups), the run's
record and artifacts. `peak_rss_mb` is the benchmark process's peak resident memory during that
flow run alone (the peak is reset just before it, Linux's `clear_refs`; where that cannot be done
it is the process's peak so far). `validation_share` is the time in `EventSuite.validate` (frames and suite)
over the flow's wall time (with the overlap, that time includes waiting for the GIL while the
store thread runs Python; `validation_cpu_s` is the validating thread's own CPU time, without
those waits). Both formats are timed by default (JSONL's figures unprefixed, Parquet's as `parquet_...`), and
`benchmarks/ingest_http.py` runs last for `http_events_per_s`. The last line is one JSON object
of the figures. The target of a peak under 1 GB on a 10,000,000-row file is checked with
`--events 10000000 --formats jsonl --no-http` (about 35 minutes on a busy 2-core machine: not
part of `make bench`).

    python benchmarks/ingest.py [--events N] [--chunk-size N] [--formats jsonl,parquet] [--no-http]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the flow's task-run lines, hushed

from benchmarks.common import bench_database, drop_bench_database, peak_rss_mb, report, reset_peak_rss
from billing.core.catalog import Catalog, parse_catalog
from billing.sources.usage_files import DEFAULT_CHUNK_SIZE
from billing.store.catalog_versions import save_catalog

T = TypeVar("T")
NOW = datetime(2026, 11, 1, tzinfo=UTC)
START = datetime(2026, 10, 1, tzinfo=UTC)
CUSTOMERS = 1_000

METRICS = [
    {"code": "api_calls", "event_type": "api_call", "aggregation": "count"},
    {"code": "tokens", "event_type": "llm", "aggregation": "sum", "field": "tokens"},
    {"code": "storage_gb", "event_type": "storage", "aggregation": "max", "field": "gb"},
    {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
    {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "seats"},
]


def bench_catalog(spend_alerts: tuple[str, ...] = ()) -> Catalog:
    """1,000 customers on one usage plan; `spend_alerts` gives each of them those alerts."""
    tiers = [{"up_to": 1000, "unit_price": "0.01"}, {"up_to": None, "unit_price": "0.005"}]
    charges = [{"model": "graduated", "metric": m["code"], "tiers": tiers} for m in METRICS]
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": METRICS,
            "plans": [{"code": "usage", "interval": "monthly", "charges": charges}],
            "customers": [
                {
                    "id": f"c{n:04d}",
                    "email": f"billing@c{n:04d}.example",
                    "contracts": [{"plan": "usage", "starts_on": "2026-01-01"}],
                    **({"spend_alerts": list(spend_alerts)} if spend_alerts else {}),
                }
                for n in range(CUSTOMERS)
            ],
        },
        "benchmark catalog",
    )


def _properties(event_type: str, rng: random.Random) -> dict[str, Any]:
    if event_type == "llm":
        return {"tokens": rng.randint(1, 4000), "model": rng.choice(["small", "large"])}
    if event_type == "storage":
        # a JSON number with two decimals (the product reads its text as a Decimal)
        return {"gb": rng.randint(0, 500_000) / 100, "region": rng.choice(["eu", "us"])}
    if event_type == "login":
        return {"user": f"u{rng.randint(0, 200)}"}
    if event_type == "seat":
        return {"seats": rng.randint(1, 50)}
    return {"endpoint": rng.choice(["/v1/a", "/v1/b", "/v1/c"])}


def clean_rows(count: int) -> Iterator[dict[str, Any]]:
    """The benchmark's events: every row valid, unique and inside the period (any format
    writes these same rows)."""
    rng = random.Random(7)
    types = [m["event_type"] for m in METRICS]
    span = int((NOW - START).total_seconds()) - 60
    for n in range(count):
        kind = types[n % len(types)]
        at = START + timedelta(seconds=rng.randint(0, span), microseconds=rng.randint(0, 999_999))
        yield {
            "transaction_id": f"evt_{n:09d}",
            "customer_id": f"c{rng.randrange(CUSTOMERS):04d}",
            "event_type": kind,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "properties": _properties(kind, rng),
        }


def write_events(path: Path, count: int) -> None:
    """A clean JSONL file of `clean_rows`."""
    with path.open("w") as out:
        for row in clean_rows(count):
            out.write(json.dumps(row) + "\n")


def write_parquet(path: Path, count: int) -> None:
    """The same `clean_rows` as Parquet: a tz-aware timestamp column, properties as JSON text
    (read exactly, like a JSONL line), written in row groups of 100,000."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("transaction_id", pa.string()),
            ("customer_id", pa.string()),
            ("event_type", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("properties", pa.string()),
        ]
    )
    rows = clean_rows(count)
    with pq.ParquetWriter(path, schema) as writer:
        while batch := [row for _, row in zip(range(100_000), rows, strict=False)]:
            columns = {name: [row[name] for row in batch] for name in schema.names}
            columns["timestamp"] = [datetime.fromisoformat(t) for t in columns["timestamp"]]
            columns["properties"] = [json.dumps(p) for p in columns["properties"]]
            writer.write_table(pa.table(columns, schema=schema))


WRITERS = {"jsonl": write_events, "parquet": write_parquet}  # writers of the same `clean_rows`


class _Stopwatch:
    """Seconds spent in the validation half of `ingest_records` (`EventSuite.validate`: the
    frame and the Great Expectations run): wall time, and the validating thread's own CPU time
    (without its waits for the GIL or for a core: the figure to compare on a shared machine)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def timed(self, work: Callable[..., T]) -> Callable[..., T]:
        def run(*args: Any, **kwargs: Any) -> T:
            start, cpu = time.perf_counter(), time.thread_time()
            try:
                return work(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.cpu_seconds += time.thread_time() - cpu

        return run


def ingest_file(
    path: Path, catalog: Catalog, chunk_size: int
) -> tuple[float, _Stopwatch, float, dict[str, Any]]:
    """The product's path: the `ingest-usage` flow itself, in-process on Prefect's test harness
    (started once, not counted), into a fresh database holding the catalog: reading, the inbox
    ledger, the validate and store tasks and their overlap, the run's record and artifacts.
    Returns the wall time, the time in validation (`EventSuite.validate`: frame and suite), the
    peak RSS of the run (MB), and the run's summary."""
    from billing.runtime import resources
    from billing.runtime.settings import get_settings
    from flows.ingest import ingest_usage

    engine = bench_database("ingest")
    with engine.begin() as connection:
        save_catalog(connection, catalog, "benchmark", NOW)
    os.environ["BILLING_DATABASE_URL"] = engine.url.render_as_string(hide_password=False)
    get_settings.cache_clear()
    suite = resources.event_suite()
    validation = _Stopwatch()
    original = suite.validate
    suite.validate = validation.timed(original)  # type: ignore[method-assign]  # frame + GX
    try:
        if not reset_peak_rss():  # this run's own peak, not the files' or another format's
            print("peak RSS cannot be reset here (/proc/self/clear_refs): peak_rss_mb is the whole process's")
        start = time.perf_counter()
        summary = ingest_usage(str(path), chunk_size)
        seconds = time.perf_counter() - start
        peak = peak_rss_mb()
    finally:
        suite.validate = original  # type: ignore[method-assign]
        resources.engine_for.cache_clear()
        drop_bench_database(engine)
    return seconds, validation, peak, summary


def copy_file(path: Path, count: int) -> tuple[float, int]:
    """The baseline: each line parsed as JSON, the rows COPYed into a bare keyed table (the
    JSONL file of the same rows, whatever format the product path reads)."""
    if not path.exists():
        write_events(path, count)
    engine = bench_database("ingest_copy")
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(
            "CREATE TABLE bare_events (transaction_id text PRIMARY KEY, customer_id text, "
            "event_type text, timestamp timestamptz, properties jsonb)"
        )
        raw.commit()
        start = time.perf_counter()
        with path.open("rb") as lines, cursor.copy("COPY bare_events FROM STDIN") as copy:  # type: ignore[attr-defined]
            for line in lines:
                row = json.loads(line)
                copy.write_row(
                    (
                        row["transaction_id"],
                        row["customer_id"],
                        row["event_type"],
                        row["timestamp"],
                        json.dumps(row["properties"]),
                    )
                )
        raw.commit()
        seconds = time.perf_counter() - start
        cursor.execute("SELECT count(*) FROM bare_events")
        (stored,) = cursor.fetchone()
    finally:
        raw.close()
    drop_bench_database(engine)
    return seconds, int(stored)


def http_figure() -> dict[str, Any]:
    """`benchmarks/ingest_http.py` in its own process (it starts its own servers): its figures."""
    import subprocess

    script = Path(__file__).resolve().parent / "ingest_http.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"the HTTP benchmark failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE)
    parser.add_argument("--formats", default="jsonl,parquet", help="comma-separated: jsonl, parquet")
    parser.add_argument("--no-http", action="store_true", help="leave out the HTTP benchmark")
    args = parser.parse_args()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = sorted(set(formats) - set(WRITERS))
    if unknown or not formats:
        raise SystemExit(
            f"--formats: unknown {', '.join(unknown) or '(none given)'}; choose from jsonl, parquet"
        )
    catalog = bench_catalog()
    figures: dict[str, Any] = {"bench": "ingest"}
    with tempfile.TemporaryDirectory(prefix="billing-bench-ingest-") as folder:
        baseline = Path(folder) / "usage.jsonl"
        write_events(baseline, args.events)
        copy_seconds, stored = copy_file(baseline, args.events)
        if stored != args.events:
            raise SystemExit(f"the baseline stored {stored} rows, not {args.events}")
        print(f"parse + COPY: {copy_seconds:.1f} s, {args.events / copy_seconds:,.0f} events/s", flush=True)
        figures["copy_events_per_s"] = round(args.events / copy_seconds)
        from prefect.testing.utilities import prefect_test_harness

        harness = prefect_test_harness(server_startup_timeout=180)
        harness.__enter__()  # one Prefect API for every format's flow run, its start not timed
        for kind in formats:
            path = Path(folder) / f"usage.{kind}"
            if not path.exists():
                WRITERS[kind](path, args.events)
            print(f"{kind}: {args.events:,} clean rows, {path.stat().st_size / 2**20:.0f} MiB", flush=True)
            seconds, validating, peak, outcome = ingest_file(path, catalog, args.chunk_size)
            if outcome["accepted"] != args.events or outcome["received"] != args.events:
                raise SystemExit(f"the clean {kind} file was not stored whole: {outcome}")
            print(
                f"product path, {kind}: {seconds:.1f} s, {args.events / seconds:,.0f} events/s, "
                f"validation (frame + suite) {validating.seconds:.1f} s "
                f"(its own CPU {validating.cpu_seconds:.1f} s), peak RSS {peak:.0f} MB",
                flush=True,
            )
            prefix = "" if kind == formats[0] else f"{kind}_"
            figures[f"{prefix}events_per_s"] = round(args.events / seconds)
            figures[f"{prefix}ratio"] = round(copy_seconds / seconds, 3)  # share of COPY's events/s
            figures[f"{prefix}validation_share"] = round(validating.seconds / seconds, 3)
            figures[f"{prefix}validation_cpu_s"] = round(validating.cpu_seconds, 1)
            figures[f"{prefix}peak_rss_mb"] = round(peak)  # this format's flow run alone
        harness.__exit__(None, None, None)
        figures["first_format"] = formats[0]
    if not args.no_http:
        figures["http_events_per_s"] = http_figure()["http_events_per_s"]
    report(figures)


if __name__ == "__main__":
    main()
