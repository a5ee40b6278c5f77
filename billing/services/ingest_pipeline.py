"""A file's chunks, Python's work on the next one overlapping the database's on this one.

Each chunk takes two steps: `prepare` (parse, the expectation suite, canonical JSON and payload
hashes: Python, holding the GIL) and `store` (COPY, the set-based merge, rollups, quarantine:
mostly waiting on PostgreSQL, which psycopg does without the GIL). Done one after the other,
one core idles while the other works. Here chunk N's store runs in the background while chunk
N+1 is read and prepared in the caller's thread. Measured with `benchmarks/ingest.py --events
300000 --no-http --formats jsonl` on 2 cores: see README, "Ingest pipeline".

What it keeps:
- order: the stores run one at a time, in file order (chunk N+1's store starts only once
  chunk N's is final, its retries included), so the first occurrence of a transaction id in a
  file still wins and a later one with another payload is still its `conflict`;
- bounded memory: at most two chunks in flight, the one being stored and the one being prepared
  (the reader reads chunk N+2 only after chunk N is stored);
- a failed chunk does not stop the others: its error is its outcome, and the next chunk is
  stored after it all the same; the caller decides what the run says (the flow fails it,
  naming the chunk, once every chunk has had its turn);
- a reading error (the file turns out bad mid-way) still lets the chunk in flight finish and
  report, then propagates.

`store` returns a future (a Prefect task's `.submit` in the flow, an executor's in tests), so
each chunk stays one task run of each step in Prefect.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from billing.services.ingest import IngestReport, PreparedChunk
from billing.sources.usage_files import RawRecord


class StoreFuture(Protocol):
    def result(self) -> IngestReport: ...


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    """What became of one chunk (numbered from 1 in file order): its counts, or why it failed."""

    number: int
    report: IngestReport | None = None
    error: Exception | None = None


def ingest_in_order(
    chunks: Iterable[list[RawRecord]],
    prepare: Callable[[list[RawRecord]], PreparedChunk],
    store: Callable[[PreparedChunk], StoreFuture],
    done: Callable[[ChunkOutcome], None],
) -> None:
    """Prepare each chunk and start its store once the previous store is final; `done` hears
    of every chunk, in file order."""
    in_flight: tuple[int, StoreFuture] | None = None

    def finish() -> None:
        nonlocal in_flight
        if in_flight is not None:
            number, future = in_flight
            in_flight = None
            try:
                report = future.result()
            except Exception as error:  # the chunk's own failure, retries spent: the next goes on
                done(ChunkOutcome(number, error=error))
            else:
                done(ChunkOutcome(number, report=report))

    try:
        for number, records in enumerate(chunks, start=1):
            try:
                prepared = prepare(records)  # meanwhile, the previous chunk is being stored
            except Exception as error:
                finish()
                done(ChunkOutcome(number, error=error))
                continue
            finish()  # its turn comes once the previous chunk's store is final
            in_flight = (number, store(prepared))
    finally:
        finish()  # the last chunk, or the one in flight when reading failed
