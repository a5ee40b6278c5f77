"""A `kill -9` mid-file and a rerun store exactly one clean run's events; two ingests of one
file at once count each event once. On both databases, through the code the flow runs
(`read_chunks` and `ingest_in_order`: one chunk per transaction, each chunk's store overlapping
the next one's validation)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from billing.services.ingest import IngestReport
from billing.sources.usage_files import read_chunks
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, QuarantinedEvent
from billing.validation.suite import EventSuite
from tests.ingest_runs import ingest_chunks
from tests.integration.test_ingest_rows import CATALOG, NOW

ROOT = Path(__file__).resolve().parents[2]
GOOD = 3_000
CHUNK = 150

# what one ingest run does: the flow's tasks' code, chunk after chunk; "committed" after each
_RUN = textwrap.dedent(
    """
    import sys
    from concurrent.futures import ThreadPoolExecutor
    from billing.services.ingest import prepare_chunk, store_chunk
    from billing.services.ingest_pipeline import ingest_in_order
    from billing.sources.usage_files import read_chunks
    from billing.store.database import create_engine
    from billing.validation.suite import EventSuite
    from tests.integration.test_ingest_rows import CATALOG, NOW

    url, path, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    engine, suite = create_engine(url), EventSuite()
    with ThreadPoolExecutor(max_workers=1) as storing:
        ingest_in_order(
            read_chunks(path, size),
            lambda records: prepare_chunk(CATALOG, suite, records, path, NOW),
            lambda prepared: storing.submit(store_chunk, engine, prepared),
            lambda outcome: print("committed" if outcome.report else outcome.error, flush=True),
        )
    """
)


def _usage_file(path: Path) -> Path:
    """GOOD good events, a repeat and a bad row every 500 lines."""
    with path.open("w") as out:
        for n in range(GOOD):
            row = {"transaction_id": f"e{n}", "customer_id": "acme", "event_type": "storage"}
            row |= {"timestamp": "2026-03-05T10:00:00Z", "properties": {"gb": n % 7}}
            out.write(json.dumps(row) + "\n")
            if n % 500 == 0:
                out.write(json.dumps(row) + "\n")  # the same event twice: a duplicate
                out.write('{"transaction_id": "broken' + str(n) + '"\n')
    return path


def _received(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def _ingest(engine, suite, path: Path) -> IngestReport:
    report = IngestReport(str(path))
    for outcome in ingest_chunks(engine, CATALOG, suite, read_chunks(str(path), CHUNK), str(path), NOW):
        assert outcome.report is not None, outcome.error
        report.add(outcome.report)
    return report


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        events = connection.scalar(sa.select(sa.func.count()).select_from(Event))
        distinct = connection.scalar(sa.select(sa.func.count(sa.distinct(Event.transaction_id))))
        held = connection.scalar(sa.select(sa.func.count()).select_from(QuarantinedEvent))
    return events, distinct, held


def test_a_run_killed_after_a_committed_chunk_and_rerun_stores_one_clean_run(engine, event_suite, tmp_path):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    path = _usage_file(tmp_path / "usage.jsonl")
    url = engine.url.render_as_string(hide_password=False)
    run = subprocess.Popen(
        [sys.executable, "-c", _RUN, url, str(path), str(CHUNK)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert run.stdout is not None
    assert run.stdout.readline() == b"committed\n"  # its first chunk is in the database
    run.send_signal(signal.SIGKILL)
    run.wait()
    stored, _, _ = _counts(engine)
    assert CHUNK - 2 <= stored < GOOD  # killed mid-file, after the first chunk
    report = _ingest(engine, event_suite, path)
    assert report.balanced and report.received == _received(path)
    assert report.accepted + report.duplicates == GOOD + GOOD // 500  # every good line
    assert report.accepted == GOOD - stored
    assert dict(report.reasons) == {"malformed_json": GOOD // 500}
    assert _counts(engine) == (GOOD, GOOD, GOOD // 500)  # each bad row held once


def test_two_ingests_of_one_file_at_once_count_each_event_once(engine, tmp_path):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    path = _usage_file(tmp_path / "usage.jsonl")
    reports: list[IngestReport] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    # one suite each, as two processes have: one EventSuite validating two chunks at once from
    # two threads mixes their rows up (Great Expectations' batch is shared state)
    suites = [EventSuite(), EventSuite()]

    def ingest(suite: EventSuite) -> None:
        try:
            start.wait()
            reports.append(_ingest(engine, suite, path))
        except BaseException as error:  # surfaced in the test's thread below
            errors.append(error)

    threads = [threading.Thread(target=ingest, args=(suite,)) for suite in suites]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors and len(reports) == 2, (errors, time.monotonic() - began)
    assert all(r.balanced and r.received == _received(path) for r in reports)
    assert sum(r.accepted for r in reports) == GOOD
    assert sum(r.duplicates for r in reports) == GOOD + 2 * (GOOD // 500)
    assert _counts(engine) == (GOOD, GOOD, GOOD // 500)
