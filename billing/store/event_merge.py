"""Storing a chunk of validated events: what is new goes in, every other row gets a verdict.

One rule on both databases, in one transaction (the caller holds `lock_billing`):
- an event of a customer the database does not know: `unknown_customer`;
- a transaction id seen earlier in the chunk: the first one wins, a repeat with the same payload
  hash is a `duplicate`, one with another payload a `conflict`;
- a transaction id already stored: `duplicate` or `conflict` the same way;
- a new event dated before its customer's latest finalized invoice is stored `late` and
  `pending_adjustment`.

PostgreSQL: the chunk is COPYed (psycopg 3) into a temporary staging table kept per pooled
connection, and one set-based statement decides every row and inserts the new ones
(`INSERT ... SELECT ... ON CONFLICT DO NOTHING`); only the rows not inserted come back. SQLite:
lookups by the batch and one batched `executemany`. If the database refuses a row, the chunk
takes the row-by-row path (`insert_events_isolating`) so that the row fails alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from billing.core.events import UsageEvent, canonical_payload
from billing.store import usage_events as lookups
from billing.store.models import Event

# Below this many events a chunk would be decided by lookups and a multi-row INSERT on
# PostgreSQL too. Measured on 1,000-event chunks (HTTP's batches): 56 ms by COPY and the merge,
# 328 ms by lookups and INSERT, so every chunk takes COPY.
COPY_FROM = 1
STAGING = "billing_staged_events"


@dataclass(frozen=True, slots=True)
class StagedEvent:
    """A validated event with what storing it needs computed once: canonical JSON and hash."""

    index: int  # the row's position in the chunk
    event: UsageEvent
    properties_json: str
    timestamp_text: str  # ISO 8601 in UTC
    payload_hash: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What became of a row that was not inserted."""

    index: int
    outcome: str  # "duplicate", "conflict", "unknown_customer" or "refused"
    detail: str = ""  # for "refused": the database's reason


@dataclass
class MergeResult:
    after_id: int  # max(events.id) before this chunk: the chunk's events are the ones after it
    inserted: int = 0
    late: int = 0
    verdicts: list[Verdict] = field(default_factory=list)


def stage(candidates: Sequence[tuple[int, UsageEvent]]) -> list[StagedEvent]:
    return [StagedEvent(index, event, *canonical_payload(event)) for index, event in candidates]


def last_event_id(connection: sa.Connection) -> int:
    return int(connection.scalar(sa.select(sa.func.coalesce(sa.func.max(Event.id), 0))) or 0)


def merge_events(connection: sa.Connection, staged: Sequence[StagedEvent], now: datetime) -> MergeResult:
    """Store the new events of a chunk; a verdict for every other row."""
    result = MergeResult(after_id=last_event_id(connection))
    if not staged:
        return result
    if connection.dialect.name == "postgresql" and len(staged) >= COPY_FROM:
        import psycopg  # the PostgreSQL driver, whose errors the COPY path meets unwrapped

        try:
            with connection.begin_nested():
                _merge_by_copy(connection, staged, now, result)
                return result
        except (psycopg.Error, *lookups.ROW_REFUSALS):
            result.inserted = result.late = 0
            result.verdicts.clear()  # the savepoint undid it: the row-by-row path below decides
    _merge_by_lookups(connection, staged, now, result)
    return result


# ---------------------------------------------------------------- PostgreSQL: COPY and merge

_CREATE_STAGING = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGING} (
    position integer NOT NULL,
    transaction_id text COLLATE "C" NOT NULL,
    customer_id text NOT NULL,
    event_type text NOT NULL,
    "timestamp" timestamptz NOT NULL,
    properties jsonb NOT NULL,
    payload_hash text NOT NULL
) ON COMMIT DELETE ROWS
"""

# One statement decides and inserts; every staged row comes back at most once, as a verdict
# (`stage` orders them as the rules apply), the inserted ones only in the two counts at the end.
# Shaped for a chunk of tens of thousands against millions of stored events: no join reads
# `events` whole. The unique index decides what is already stored (ON CONFLICT), and only the
# rows it skipped are looked up, one index probe each.
_MERGE = f"""
WITH staged AS (
    SELECT s.position, s.transaction_id, s.payload_hash, c.id IS NULL AS unknown
    FROM {STAGING} s LEFT JOIN customers c ON c.id = s.customer_id
), repeats AS (
    SELECT st.position, st.payload_hash = f.payload_hash AS same
    FROM (
        SELECT transaction_id, min(position) AS first FROM staged WHERE NOT unknown
        GROUP BY transaction_id HAVING count(*) > 1
    ) r
    JOIN staged st ON st.transaction_id = r.transaction_id AND st.position <> r.first AND NOT st.unknown
    JOIN staged f ON f.position = r.first
), invoiced AS (
    SELECT i.customer_id, max(i.issued_at) AS until
    FROM invoices i
    WHERE i.status IN ('finalized', 'paid', 'void') AND i.kind = 'invoice'
    GROUP BY i.customer_id
), inserted AS (
    INSERT INTO events (transaction_id, customer_id, event_type, "timestamp", properties,
                        payload_hash, received_at, late, pending_adjustment)
    SELECT s.transaction_id, s.customer_id, s.event_type, s."timestamp", s.properties,
           s.payload_hash, %(now)s, coalesce(s."timestamp" < v.until, false),
           coalesce(s."timestamp" < v.until, false)
    FROM {STAGING} s
    JOIN customers c ON c.id = s.customer_id
    LEFT JOIN invoiced v ON v.customer_id = s.customer_id
    WHERE NOT EXISTS (SELECT 1 FROM repeats r WHERE r.position = s.position)
    ORDER BY s.position
    ON CONFLICT (transaction_id) DO NOTHING
    RETURNING transaction_id, late
), skipped AS (
    SELECT st.position, st.transaction_id, st.payload_hash
    FROM staged st
    WHERE NOT st.unknown
      AND NOT EXISTS (SELECT 1 FROM repeats r WHERE r.position = st.position)
      AND NOT EXISTS (SELECT 1 FROM inserted i WHERE i.transaction_id = st.transaction_id)
), judged AS (
    -- the statement's snapshot holds what was stored before it; a row stored by a concurrent
    -- writer since then is not in it: "raced", looked up again afterwards
    SELECT k.position, k.payload_hash,
           (SELECT e.payload_hash FROM events e WHERE e.transaction_id = k.transaction_id) AS stored
    FROM skipped k
)
SELECT 1 AS stage, position, 'unknown_customer' AS outcome FROM staged WHERE unknown
UNION ALL
SELECT 2, position, CASE WHEN same THEN 'duplicate' ELSE 'conflict' END FROM repeats
UNION ALL
SELECT 3, position,
       CASE WHEN stored IS NULL THEN 'raced' WHEN stored = payload_hash THEN 'duplicate' ELSE 'conflict' END
FROM judged
UNION ALL
SELECT 5, count(*), 'inserted' FROM inserted
UNION ALL
SELECT 6, count(*), 'late' FROM inserted WHERE late
ORDER BY 1, 2
"""

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_field(text: str) -> str:
    """A value in COPY's text format (backslash escapes for the characters it gives meaning)."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def _copy_text(staged: Sequence[StagedEvent]) -> bytes:
    """The chunk as COPY text lines, written straight from the events (no row dicts)."""
    field_ = _copy_field
    lines = [
        f"{s.index}\t{field_(e.transaction_id)}\t{field_(e.customer_id)}\t{field_(e.event_type)}\t"
        f"{s.timestamp_text}\t{field_(s.properties_json)}\t{s.payload_hash}\n"
        for s in staged
        for e in (s.event,)
    ]
    return "".join(lines).encode("utf-8")


def _merge_by_copy(
    connection: sa.Connection, staged: Sequence[StagedEvent], now: datetime, result: MergeResult
) -> None:
    driver: Any = connection.connection.driver_connection  # psycopg's own connection
    with driver.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        # the chunk's sorts and hashes in memory; no JIT: compiling costs more than it saves here
        cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
        # rows of a chunk refused earlier (the savepoint rolled back) are gone; this one's go in
        with cursor.copy(f"COPY {STAGING} FROM STDIN") as copy:
            copy.write(_copy_text(staged))
        cursor.execute(_MERGE, {"now": now})
        rows = cursor.fetchall()
        cursor.execute(f"TRUNCATE {STAGING}")  # the next chunk of this transaction starts empty
    by_index = {s.index: s for s in staged}
    raced: list[StagedEvent] = []
    for _stage, position, outcome in rows:
        if outcome == "inserted":
            result.inserted = position
        elif outcome == "late":
            result.late = position
        elif outcome == "raced":  # stored by a concurrent writer since the statement's snapshot
            raced.append(by_index[position])
        else:
            result.verdicts.append(Verdict(position, outcome))
    if raced:
        _judge_stored(connection, raced, result)


def _judge_stored(connection: sa.Connection, staged: Sequence[StagedEvent], result: MergeResult) -> None:
    stored = lookups.stored_hashes(connection, (s.event.transaction_id for s in staged))
    for s in staged:
        same = stored.get(s.event.transaction_id) == s.payload_hash
        result.verdicts.append(Verdict(s.index, "duplicate" if same else "conflict"))


# ---------------------------------------------------------------- lookups (SQLite, fallback)


def _merge_by_lookups(
    connection: sa.Connection, staged: Sequence[StagedEvent], now: datetime, result: MergeResult
) -> None:
    known = lookups.known_customers(connection, (s.event.customer_id for s in staged))
    first: dict[str, StagedEvent] = {}
    repeats: list[Verdict] = []
    for s in staged:
        if s.event.customer_id not in known:
            result.verdicts.append(Verdict(s.index, "unknown_customer"))
            continue
        original = first.setdefault(s.event.transaction_id, s)
        if original is not s:
            same = original.payload_hash == s.payload_hash
            repeats.append(Verdict(s.index, "duplicate" if same else "conflict"))
    result.verdicts.extend(repeats)
    fresh = list(first.values())
    stored = lookups.stored_hashes(connection, (s.event.transaction_id for s in fresh))
    new: list[StagedEvent] = []
    for s in fresh:
        digest = stored.get(s.event.transaction_id)
        if digest is None:
            new.append(s)
        else:
            result.verdicts.append(Verdict(s.index, "duplicate" if digest == s.payload_hash else "conflict"))
    invoiced = lookups.finalized_until(connection, (s.event.customer_id for s in new))
    late = {
        s.event.transaction_id
        for s in new
        if s.event.customer_id in invoiced and s.event.timestamp < invoiced[s.event.customer_id]
    }
    inserted = _insert_batched(connection, new, late, now)
    if inserted is None:
        ids, refused = lookups.insert_events_isolating(connection, [s.event for s in new], late, now)
        inserted = ids
        for s in new:
            if s.event.transaction_id in refused:
                result.verdicts.append(Verdict(s.index, "refused", refused[s.event.transaction_id]))
        settled = ids | set(refused)
        raced = [s for s in new if s.event.transaction_id not in settled]
        _judge_stored(connection, raced, result)
    result.inserted = len(inserted)
    result.late = len(late & inserted)


class _NotAllInserted(Exception):
    """Some rows were stored meanwhile: the returning path tells which."""


def _insert_batched(
    connection: sa.Connection, new: Sequence[StagedEvent], late: set[str], now: datetime
) -> set[str] | None:
    """SQLite: the new events in one `executemany`, the JSON already written; None when the
    database refused a row or some id was stored meanwhile (the caller goes row by row)."""
    if connection.dialect.name != "sqlite":
        return None
    ids = {s.event.transaction_id for s in new}
    if not new:
        return ids
    dialect = connection.dialect
    instant: Any = Event.__table__.c.timestamp.type.dialect_impl(dialect).bind_processor(dialect)
    received = instant(now)
    rows = [
        (
            e.transaction_id,
            e.customer_id,
            e.event_type,
            instant(e.timestamp),
            s.properties_json,
            s.payload_hash,
            received,
            e.transaction_id in late,
            e.transaction_id in late,
        )
        for s in new
        for e in (s.event,)
    ]
    try:
        with connection.begin_nested():
            cursor = connection.exec_driver_sql(_SQLITE_INSERT, rows)
            if cursor.rowcount != len(rows):
                raise _NotAllInserted
    except (_NotAllInserted, *lookups.ROW_REFUSALS):
        return None
    return ids


_SQLITE_INSERT = (
    'INSERT INTO events (transaction_id, customer_id, event_type, "timestamp", properties, '
    "payload_hash, received_at, late, pending_adjustment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (transaction_id) DO NOTHING"
)
