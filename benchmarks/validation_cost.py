"""What validating one chunk costs: the frame (Python's per-row reading) and `batch.validate`.

    .venv/bin/python benchmarks/validation_cost.py [rows ...]

Generates the ingest benchmark's rows (every row valid), validates each size a few times with
the benchmark catalog and prints the fastest call (the least disturbed by other work). Last line
`{"bench": "validation", "cost": {rows: {"frame_ms", "suite_ms", "total_ms"}}, "expectations"}`.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ingest import NOW, bench_catalog, write_events
from billing.sources.usage_files import read_chunks
from billing.validation.suite import EventSuite

REPEATS = 5


def main(sizes: list[int]) -> None:
    catalog = bench_catalog()
    suite = EventSuite()
    cost = {}
    for rows in sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "usage.jsonl"
            write_events(path, rows)
            (records,) = read_chunks(str(path), chunk_size=rows)
        suite.validate(records, catalog, NOW)  # warm: the suite is built once per catalog
        suites, totals = [], []
        for _ in range(REPEATS):
            checked = suite.validate(records, catalog, NOW)
            suites.append(checked.stats.suite_seconds)
            totals.append(checked.stats.seconds)
        assert not checked.failed, "the benchmark's rows are all valid"
        suite_ms, total_ms = min(suites) * 1000, min(totals) * 1000
        cost[rows] = {
            "frame_ms": round(total_ms - suite_ms, 1),
            "suite_ms": round(suite_ms, 1),
            "total_ms": round(total_ms, 1),
        }
        print(f"{rows:>7,} rows: frame {total_ms - suite_ms:7.1f} ms, suite {suite_ms:7.1f} ms", flush=True)
    expectations = len(suite.expectations(catalog).expectations)
    print(json.dumps({"bench": "validation", "cost": cost, "expectations": expectations}))


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [1_000, 50_000])
