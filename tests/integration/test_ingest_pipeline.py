"""`ingest_in_order`: a chunk's store overlaps the next chunk's preparation, and still every
rule of a sequential ingest holds: file order (the first occurrence of a transaction id wins),
balanced counts, a failed chunk that does not stop the later ones. On both databases."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.errors import SourceError
from billing.services.ingest import IngestReport, PreparedChunk, ingest_records, prepare_chunk, store_chunk
from billing.services.ingest_pipeline import ChunkOutcome, ingest_in_order
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, QuarantinedEvent
from tests.ingest_runs import ingest_chunks
from tests.integration.test_ingest_rows import CATALOG, NOW


def _line(txid: str, gb: int) -> str:
    row = {"transaction_id": txid, "customer_id": "acme", "event_type": "storage"}
    return json.dumps(row | {"timestamp": "2026-03-05T10:00:00Z", "properties": {"gb": gb}})


def _chunks(lines: list[str], size: int) -> list[list[RawRecord]]:
    records = [RawRecord(n + 1, line) for n, line in enumerate(lines)]
    return [records[start : start + size] for start in range(0, len(records), size)]


@pytest.fixture
def stored_catalog(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    return engine


class _Watched:
    """Prepare and store steps that record what runs when: at most one store at a time, and
    chunk 1's store holding on until chunk 2 has been prepared (the overlap, made certain)."""

    def __init__(self, engine, suite, storing: ThreadPoolExecutor) -> None:
        self.engine, self.suite, self.storing = engine, suite, storing
        self.prepared = 0
        self.second_prepared = threading.Event()
        self.overlapped = False
        self.storing_now = 0
        self.most_at_once = 0
        self.lock = threading.Lock()

    def prepare(self, records: list[RawRecord]) -> PreparedChunk:
        prepared = prepare_chunk(CATALOG, self.suite, records, "f", NOW)
        self.prepared += 1
        if self.prepared == 2:
            self.second_prepared.set()
        return prepared

    def store(self, prepared: PreparedChunk):
        return self.storing.submit(self._store, prepared, first=self.prepared == 1)

    def _store(self, prepared: PreparedChunk, first: bool) -> IngestReport:
        with self.lock:
            self.storing_now += 1
            self.most_at_once = max(self.most_at_once, self.storing_now)
        try:
            if first:  # chunk 2 is prepared while chunk 1 is being stored
                self.overlapped = self.second_prepared.wait(timeout=120)
            return store_chunk(self.engine, prepared)
        finally:
            with self.lock:
                self.storing_now -= 1


def test_a_conflict_across_chunks_keeps_the_first_chunks_payload_with_the_overlap_on(
    stored_catalog, event_suite
):
    engine = stored_catalog
    lines = [_line("e1", 1), _line("e2", 2), _line("e3", 3), _line("e1", 99), _line("e2", 2), _line("e4", 4)]
    outcomes: list[ChunkOutcome] = []
    with ThreadPoolExecutor(max_workers=2) as storing:  # room for two stores: the order is ours
        steps = _Watched(engine, event_suite, storing)
        ingest_in_order(_chunks(lines, 3), steps.prepare, steps.store, outcomes.append)
    assert steps.overlapped and steps.most_at_once == 1
    assert [o.number for o in outcomes] == [1, 2]
    first, second = (o.report for o in outcomes)
    assert first is not None and second is not None
    assert (first.accepted, first.duplicates, first.quarantined) == (3, 0, 0)
    assert (second.accepted, second.duplicates, second.quarantined) == (1, 1, 1)
    assert dict(second.reasons) == {"conflict": 1}
    with engine.connect() as connection:
        gb = connection.scalar(sa.select(Event.properties).where(Event.transaction_id == "e1"))
        held = connection.execute(sa.select(QuarantinedEvent.transaction_id, QuarantinedEvent.line)).all()
    assert gb == {"gb": 1}  # the first chunk's payload; the later one is the conflict
    assert [tuple(row) for row in held] == [("e1", 4)]


_LINES = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["e1", "e2", "e3", "e4", "e5"]), st.integers(0, 2)).map(
            lambda pair: _line(*pair)
        ),
        st.just('{"transaction_id": "broken"'),
    ),
    max_size=24,
)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=_LINES, size=st.integers(1, 6))
def test_the_overlap_decides_every_row_as_chunk_after_chunk_does(engine, wipe, event_suite, lines, size):
    """Repeats, conflicts and bad rows across chunk boundaries: the same verdicts, counts and
    stored payloads as one `ingest_records` after the other, and every chunk balanced."""

    def stored() -> tuple[list[tuple[str, object]], list[tuple[str, int, str]]]:
        with engine.connect() as connection:
            events = connection.execute(
                sa.select(Event.transaction_id, Event.properties).order_by(Event.transaction_id)
            )
            held = connection.execute(
                sa.select(QuarantinedEvent.transaction_id, QuarantinedEvent.line, QuarantinedEvent.reason)
            )
            return [tuple(row) for row in events], sorted(
                (tuple(row) for row in held), key=lambda row: row[1]
            )  # type: ignore[misc]

    results = []
    for overlapped in (False, True):
        wipe()
        with engine.begin() as connection:
            save_catalog(connection, CATALOG, "test", NOW)
        if overlapped:
            outcomes = ingest_chunks(engine, CATALOG, event_suite, iter(_chunks(lines, size)), "f", NOW)
            reports = [o.report for o in outcomes]
        else:
            reports = [
                ingest_records(engine, CATALOG, event_suite, c, "f", NOW) for c in _chunks(lines, size)
            ]
        assert all(r is not None and r.balanced for r in reports)
        counts = [
            (r.received, r.accepted, r.duplicates, r.quarantined, dict(r.reasons)) for r in reports if r
        ]
        results.append((counts, stored()))
    assert results[0] == results[1]


def test_a_failed_chunk_does_not_stop_the_later_ones(stored_catalog, event_suite):
    engine = stored_catalog
    lines = [_line(f"e{n}", n) for n in range(8)]
    outcomes: list[ChunkOutcome] = []
    stores = 0

    def store(prepared: PreparedChunk) -> IngestReport:
        nonlocal stores
        stores += 1
        if stores == 2:
            raise RuntimeError("the database went away")
        return store_chunk(engine, prepared)

    def prepare(records: list[RawRecord]) -> PreparedChunk:
        if records[0].position == 7:
            raise ValueError("cannot prepare chunk 4")
        return prepare_chunk(CATALOG, event_suite, records, "f", NOW)

    with ThreadPoolExecutor(max_workers=1) as storing:
        ingest_in_order(_chunks(lines, 2), prepare, lambda p: storing.submit(store, p), outcomes.append)
    assert [(o.number, o.report is not None, str(o.error or "")) for o in outcomes] == [
        (1, True, ""),
        (2, False, "the database went away"),
        (3, True, ""),
        (4, False, "cannot prepare chunk 4"),
    ]
    with engine.connect() as connection:
        ids = connection.scalars(sa.select(Event.transaction_id).order_by(Event.transaction_id)).all()
    assert ids == ["e0", "e1", "e4", "e5"]  # chunk 3 stored after the failed chunk 2


def test_a_reading_error_lets_the_chunk_in_flight_finish_first(stored_catalog, event_suite):
    engine = stored_catalog
    good = _chunks([_line(f"e{n}", n) for n in range(4)], 2)

    def read() -> Iterator[list[RawRecord]]:
        yield from good
        raise SourceError("usage.jsonl: truncated")

    outcomes: list[ChunkOutcome] = []
    with ThreadPoolExecutor(max_workers=1) as storing, pytest.raises(SourceError, match="truncated"):
        ingest_in_order(
            read(),
            lambda records: prepare_chunk(CATALOG, event_suite, records, "f", NOW),
            lambda prepared: storing.submit(store_chunk, engine, prepared),
            outcomes.append,
        )
    assert [(o.number, o.report and o.report.accepted) for o in outcomes] == [(1, 2), (2, 2)]


def test_a_store_retried_after_a_failure_counts_the_chunk_once(stored_catalog, event_suite):
    """A retried store task starts from the prepared chunk again: its bad rows once, not twice."""
    engine = stored_catalog
    prepared = prepare_chunk(
        CATALOG, event_suite, [RawRecord(1, _line("e1", 1)), RawRecord(2, "{")], "f", NOW
    )
    first = store_chunk(engine, prepared)
    again = store_chunk(engine, prepared)
    assert (first.accepted, first.quarantined, dict(first.reasons)) == (1, 1, {"malformed_json": 1})
    assert (again.accepted, again.duplicates, again.quarantined) == (0, 1, 1)
    assert again.balanced and dict(again.reasons) == {"malformed_json": 1}
