"""Ingestion: raw records to stored events and quarantined rows, losing none.

For each chunk: parse and validate every row (the expectation suite), check customers exist,
tell duplicates (same transaction id, same payload) from conflicts (same id, other payload),
mark usage for already-invoiced periods as late, then store. Every chunk reports
`received = accepted + duplicates + quarantined`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, Engine

from billing.core.catalog import Catalog
from billing.core.events import MAX_ROW_BYTES, UsageEvent, dumps, storable
from billing.sources.usage_files import RawRecord
from billing.store import event_merge, rollups
from billing.store import usage_events as store
from billing.store.database import lock_billing
from billing.validation.stats import ValidationStats
from billing.validation.suite import EventSuite

MAX_REJECTIONS_KEPT = 1_000


@dataclass(frozen=True, slots=True)
class Rejection:
    position: int
    reason: str
    detail: str
    transaction_id: str | None = None
    fingerprint: str = ""  # the quarantine fingerprint it is held under
    quarantine_id: int | None = None  # the held row that holds it, once stored


@dataclass
class IngestReport:
    source: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    late: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)  # the first ones, for display
    failed_files: list[str] = field(default_factory=list)  # one line each: the file and why
    validation: ValidationStats = field(default_factory=ValidationStats)
    customers: set[str] = field(default_factory=set)  # those with events accepted: spend alerts

    def add(self, other: IngestReport) -> IngestReport:
        self.received += other.received
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.late += other.late
        self.reasons.update(other.reasons)
        self.failed_files.extend(other.failed_files)
        self.validation.add(other.validation)
        self.customers |= other.customers
        room = MAX_REJECTIONS_KEPT - len(self.rejections)
        self.rejections.extend(other.rejections[: max(room, 0)])
        return self

    @property
    def balanced(self) -> bool:
        return self.received == self.accepted + self.duplicates + self.quarantined

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "late": self.late,
            "reasons": dict(sorted(self.reasons.items())),
            "failed_files": list(self.failed_files),
            "validation": self.validation.as_dict(),
        }


class _Chunk:
    """Bookkeeping of one chunk: every record ends accepted, duplicate or quarantined."""

    def __init__(self, records: Sequence[RawRecord], objects: list[Any], source: str, now: datetime):
        self.records = records
        self.objects = objects
        self.source = source
        self.now = now
        self.report = IngestReport(source, received=len(records))
        self.quarantine_rows: list[dict[str, Any]] = []

    def copy(self) -> _Chunk:
        """The same bookkeeping, to add to without changing this one."""
        twin = _Chunk(self.records, self.objects, self.source, self.now)
        twin.report = IngestReport(self.source).add(self.report)
        twin.quarantine_rows = list(self.quarantine_rows)
        return twin

    def reject(self, index: int, reason: str, detail: str, event: UsageEvent | None = None) -> None:
        record = self.records[index]
        payload = storable(record.text if record.text is not None else _written(record.data))
        obj = self.objects[index]
        if not isinstance(obj, dict):  # not read (e.g. a refused CloudEvents envelope): its data
            obj = record.data if isinstance(record.data, dict) else {}
        txid = event.transaction_id if event else _text(obj.get("transaction_id"))
        customer = event.customer_id if event else _text(obj.get("customer_id"))
        fingerprint = store.quarantine_fingerprint(reason, payload)
        self.report.quarantined += 1
        self.report.reasons[reason] += 1
        if len(self.report.rejections) < MAX_REJECTIONS_KEPT:
            self.report.rejections.append(Rejection(record.position, reason, detail, txid, fingerprint))
        self.quarantine_rows.append(
            {
                "fingerprint": fingerprint,
                "transaction_id": txid,
                "customer_id": customer,
                "reason": reason,
                "detail": storable(detail),
                "payload": payload,
                "source": storable(self.source),
                "line": record.position,
                "status": "held",
                "received_at": self.now,
            }
        )


def _text(value: Any) -> str | None:
    return storable(value[:255])[:255] if isinstance(value, str) else None


def _written(data: Any) -> str:
    """An HTTP record's JSON as quarantine keeps it (whatever it holds, never an error)."""
    try:
        return dumps(data)
    except (TypeError, ValueError, RecursionError, ArithmeticError):  # e.g. 1E+999999
        pass
    try:
        return repr(data)[:MAX_ROW_BYTES]
    except RecursionError:
        return f"<a {type(data).__name__} nested too deep to write>"


@dataclass(frozen=True)
class PreparedChunk:
    """A chunk after Python's work on it (parse, the expectation suite, canonical JSON and
    payload hashes) and before the database's: what `store_chunk` stores, as often as it is
    retried (it is never changed)."""

    checked: _Chunk  # the rows validation quarantined, counted
    candidates: list[tuple[int, UsageEvent]]
    staged: list[event_merge.StagedEvent]


def prepare_chunk(
    catalog: Catalog, suite: EventSuite, records: Sequence[RawRecord], source: str, now: datetime
) -> PreparedChunk:
    """Validate one chunk and compute what storing it needs; no database."""
    checked = suite.validate(records, catalog, now)
    chunk = _Chunk(records, checked.frame.objects, source, now)
    chunk.report.validation = checked.stats
    table_row = {index: row for row, index in enumerate(checked.frame.rows)}
    candidates: list[tuple[int, UsageEvent]] = []
    for index in range(len(records)):
        failure = checked.failed.get(index)
        if failure is not None:
            chunk.reject(index, failure.reason, failure.detail)
        else:
            candidates.append((index, checked.frame.event(table_row[index])))
    staged = event_merge.stage(candidates)  # canonical JSON and payload hash, once per event
    return PreparedChunk(chunk, candidates, staged)


def store_chunk(engine: Engine, prepared: PreparedChunk) -> IngestReport:
    """Store a prepared chunk in one transaction: events, verdicts, quarantine and rollups."""
    return store_chunks(engine, [prepared])[0]


def store_chunks(engine: Engine, chunks: Sequence[PreparedChunk]) -> list[IngestReport]:
    """Store prepared chunks in one transaction, each as if stored alone after the ones before
    it (the API's concurrent requests: one lock, one rollup pass and one commit for them all)."""
    with engine.begin() as connection:
        lock_billing(connection)  # lateness must be decided against invoices that cannot move
        return _store_in_order(connection, chunks)


def store_prepared(connection: Connection, prepared: PreparedChunk) -> IngestReport:
    """`store_chunk` in the caller's transaction, which holds `lock_billing` (a quarantine retry
    stores its rows and resolves them in one)."""
    return _store_in_order(connection, [prepared])[0]


def _store_in_order(connection: Connection, chunks: Sequence[PreparedChunk]) -> list[IngestReport]:
    """Each chunk's events merged after the previous chunk's (the first occurrence of a
    transaction id wins, as in a file), the rollups brought up to date once for them all, then
    each chunk's verdicts and quarantined rows. Each rejection kept for display names the held
    row that holds it: a bad row sent again while held is counted quarantined, as that row."""
    if not chunks:
        return []
    merges = []
    for prepared in chunks:
        chunk = prepared.checked.copy()  # a retry starts again from validation's counts
        merges.append((chunk, event_merge.merge_events(connection, prepared.staged, chunk.now), prepared))
    rollups.add_events_after(connection, merges[0][1].after_id)  # the usage rollups, in this transaction
    reports = []
    for chunk, merged, prepared in merges:
        _record_verdicts(chunk, merged, prepared.candidates)
        store.insert_quarantined_isolating(connection, chunk.quarantine_rows)
        if chunk.report.rejections:
            holder = store.held_ids(connection, (r.fingerprint for r in chunk.report.rejections))
            chunk.report.rejections = [
                replace(r, quarantine_id=holder.get(r.fingerprint)) for r in chunk.report.rejections
            ]
        reports.append(chunk.report)
    return reports


def ingest_records(
    engine: Engine,
    catalog: Catalog,
    suite: EventSuite,
    records: Sequence[RawRecord],
    source: str,
    now: datetime,
) -> IngestReport:
    """Validate and store one chunk of records in one transaction."""
    return store_chunk(engine, prepare_chunk(catalog, suite, records, source, now))


def _record_verdicts(
    chunk: _Chunk, merged: event_merge.MergeResult, candidates: list[tuple[int, UsageEvent]]
) -> None:
    """Count what the store did with each candidate: accepted, duplicate, or quarantined."""
    events = dict(candidates) if merged.verdicts else {}
    refused = {verdict.index for verdict in merged.verdicts}
    chunk.report.customers |= {e.customer_id for index, e in candidates if index not in refused}
    chunk.report.accepted += merged.inserted
    chunk.report.late += merged.late
    for verdict in merged.verdicts:
        event = events[verdict.index]
        if verdict.outcome == "duplicate":
            chunk.report.duplicates += 1
        elif verdict.outcome == "conflict":
            chunk.reject(verdict.index, "conflict", _conflict(event), event)
        elif verdict.outcome == "unknown_customer":
            detail = f"customer {event.customer_id!r} is not in the catalog"
            chunk.reject(verdict.index, "unknown_customer", detail, event)
        else:
            chunk.reject(verdict.index, "unreadable_row", verdict.detail, event)


def _conflict(event: UsageEvent) -> str:
    return (
        f"transaction_id {event.transaction_id!r} was already received with a different "
        "payload; the original is kept"
    )
