"""What every benchmark shares: its own PostgreSQL database, best-of-N timing, peak memory."""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# as `make bench` exports it, for a benchmark run on its own: no call out from Prefect's server
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from billing.store.database import create_engine, upgrade

T = TypeVar("T")
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def bench_database(name: str) -> Engine:
    """A fresh, migrated database `billing_bench_<name>` on the server of BILLING_BENCH_DATABASE_URL
    (BILLING_BENCH_DATABASE_PREFIX replaces `billing_bench_`, so that benchmarks run at once on
    one server do not drop each other's database)."""
    url = sa.engine.make_url(os.environ.get("BILLING_BENCH_DATABASE_URL", DEFAULT_URL))
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    database = os.environ.get("BILLING_BENCH_DATABASE_PREFIX", "billing_bench_") + name
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    engine = create_engine(url.set(database=database).render_as_string(hide_password=False))
    upgrade(engine)
    return engine


def drop_bench_database(engine: Engine) -> None:
    url = engine.url
    engine.dispose()
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """The fastest of `runs` timings, and the last result."""
    best = float("inf")
    result: Any = None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_rss_mb() -> float:
    """The process's peak resident memory, in MB: since it started, or since `reset_peak_rss`."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def reset_peak_rss() -> bool:
    """Make `peak_rss_mb` start again from the memory resident now (Linux: `clear_refs` 5
    resets the peak), so that it measures one step of a benchmark; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as control:
            control.write("5")
    except OSError:
        return False
    return True


def report(figures: dict[str, Any]) -> None:
    """The last line of a benchmark's output: one JSON object of its figures."""
    print(json.dumps(figures), flush=True)
