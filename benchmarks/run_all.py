"""`make bench`: every benchmark in this folder, one after the other, each in its own process.

Each benchmark prints its figures and baseline and ends with one JSON line; this collects those
lines and prints them together at the end. Uses BILLING_BENCH_DATABASE_URL (default: the local
PostgreSQL).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"__init__.py", "common.py", "run_all.py"}


def main() -> int:
    results, failed = [], []
    for script in sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHMARKS):
        print(f"== {script.name} ==", flush=True)
        process = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
        print(process.stdout, end="")
        if process.returncode != 0:
            print(process.stderr, end="", file=sys.stderr)
            failed.append(script.name)
            continue
        results.append(json.loads(process.stdout.strip().splitlines()[-1]))
    print("== results ==")
    for result in results:
        print(json.dumps(result))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
