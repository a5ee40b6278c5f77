"""Stored usage events and quarantined rows: lookups by the batch, idempotent inserts."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from billing.core.events import UsageEvent
from billing.store.database import dialect_insert, member_of, one_of
from billing.store.models import CustomerRow, Event, IngestRun, InvoiceRow, QuarantinedEvent

T = TypeVar("T")
_LOOKUP_BATCH = 5_000
FINALIZED_STATUSES = ("finalized", "paid", "void")


def _batches(items: Sequence[T], size: int = _LOOKUP_BATCH) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def known_customers(connection: sa.Connection, customer_ids: Iterable[str]) -> set[str]:
    ids = sorted(set(customer_ids))
    found: set[str] = set()
    for batch in _batches(ids):
        found.update(
            connection.scalars(
                sa.select(CustomerRow.id).where(one_of(connection, CustomerRow.id, list(batch)))
            )
        )
    return found


def stored_hashes(connection: sa.Connection, transaction_ids: Iterable[str]) -> dict[str, str]:
    """payload hash of each already-stored transaction id."""
    ids = sorted(set(transaction_ids))
    found: dict[str, str] = {}
    statement = _stored_hashes_query(connection.dialect.name)
    for batch in _batches(ids):
        found.update({txid: digest for txid, digest in connection.execute(statement, {"ids": list(batch)})})
    return found


@functools.cache
def _stored_hashes_query(dialect: str) -> sa.Select[Any]:
    """Built once per dialect: a preview looks its events up on every request."""
    return sa.select(Event.transaction_id, Event.payload_hash).where(
        member_of(dialect, Event.transaction_id, "ids")
    )


def finalized_until(connection: sa.Connection, customer_ids: Iterable[str]) -> dict[str, datetime]:
    """Per customer, the issue instant of its latest finalized invoice: usage before it is late."""
    ids = sorted(set(customer_ids))
    found: dict[str, datetime] = {}
    for batch in _batches(ids):
        rows = connection.execute(
            sa.select(InvoiceRow.customer_id, sa.func.max(InvoiceRow.issued_at))
            .where(
                one_of(connection, InvoiceRow.customer_id, list(batch)),
                InvoiceRow.status.in_(FINALIZED_STATUSES),
                InvoiceRow.kind == "invoice",  # a credit note is dated when it is issued, not a boundary
            )
            .group_by(InvoiceRow.customer_id)
        )
        found.update({customer: _aware(instant) for customer, instant in rows})
    return found


def _aware(instant: Any) -> datetime:
    # aggregates bypass the column type: SQLite hands back text, PostgreSQL an aware datetime
    value: datetime = datetime.fromisoformat(instant) if isinstance(instant, str) else instant
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def insert_events(
    connection: sa.Connection, events: Sequence[UsageEvent], late: set[str], now: datetime
) -> set[str]:
    """Insert events, skipping transaction ids stored meanwhile; returns the ids inserted."""
    if not events:
        return set()
    rows = [
        {
            "transaction_id": e.transaction_id,
            "customer_id": e.customer_id,
            "event_type": e.event_type,
            "timestamp": e.timestamp,
            "properties": e.properties,
            "payload_hash": e.payload_hash,
            "received_at": now,
            "late": e.transaction_id in late,
            "pending_adjustment": e.transaction_id in late,
        }
        for e in events
    ]
    statement = (
        dialect_insert(connection, Event)
        .on_conflict_do_nothing(index_elements=["transaction_id"])
        .returning(Event.transaction_id)
    )
    return set(connection.scalars(statement, rows))


# What a database may refuse one row for (a value it cannot store, a constraint): the statement
# fails, not the process. Client-side encoding errors surface as UnicodeError or ValueError.
ROW_REFUSALS = (sa.exc.DBAPIError, sa.exc.StatementError, UnicodeError, ValueError)


def _refusal(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split())
    return f"the database refused the row: {text[:200]}"


def insert_events_isolating(
    connection: sa.Connection, events: Sequence[UsageEvent], late: set[str], now: datetime
) -> tuple[set[str], dict[str, str]]:
    """`insert_events` in a savepoint; if the database refuses the batch, the events are
    inserted one by one, each in its own savepoint, so one refused row fails only itself.
    Returns the ids inserted and, per refused id, the database's reason."""
    try:
        with connection.begin_nested():
            return insert_events(connection, events, late, now), {}
    except ROW_REFUSALS:
        pass
    inserted: set[str] = set()
    refused: dict[str, str] = {}
    for event in events:
        try:
            with connection.begin_nested():
                inserted |= insert_events(connection, [event], late, now)
        except ROW_REFUSALS as error:
            refused[event.transaction_id] = _refusal(error)
    return inserted, refused


def quarantine_fingerprint(reason: str, payload: str) -> str:
    """The same bad row is held once, however many times it is sent."""
    return hashlib.sha256(f"{reason}\n{payload}".encode()).hexdigest()


def released_fingerprint(row_id: int) -> str:
    """What a resolved row's fingerprint becomes once the same bad row comes again: unique to
    the row, never the fingerprint of a payload."""
    return hashlib.sha256(f"released\n{row_id}".encode()).hexdigest()


def release_resolved(connection: sa.Connection, fingerprints: Iterable[str]) -> int:
    """A fingerprint is unique among rows *held*: a row retried or discarded gives its own up
    when the same bad row is sent again, so that the new receipt is held (and listed) as a row
    of its own, not counted as quarantined against a row no `quarantine list` shows."""
    wanted = sorted(set(fingerprints))
    resolved: list[int] = []
    for batch in _batches(wanted):
        resolved += connection.scalars(
            sa.select(QuarantinedEvent.id).where(
                one_of(connection, QuarantinedEvent.fingerprint, list(batch)),
                QuarantinedEvent.status != "held",
            )
        )
    if resolved:
        connection.execute(
            sa.update(QuarantinedEvent)
            .where(QuarantinedEvent.id == sa.bindparam("row_id"))
            .values(fingerprint=sa.bindparam("released")),
            [{"row_id": id_, "released": released_fingerprint(id_)} for id_ in resolved],
        )
    return len(resolved)


def held_ids(connection: sa.Connection, fingerprints: Iterable[str]) -> dict[str, int]:
    """The id of the held row holding each fingerprint."""
    wanted = sorted(set(fingerprints))
    found: dict[str, int] = {}
    for batch in _batches(wanted):
        rows = connection.execute(
            sa.select(QuarantinedEvent.fingerprint, QuarantinedEvent.id).where(
                one_of(connection, QuarantinedEvent.fingerprint, list(batch)),
                QuarantinedEvent.status == "held",
            )
        )
        found.update({fingerprint: id_ for fingerprint, id_ in rows})
    return found


def insert_quarantined(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Hold rejected rows; a row already held is left as it is (the run counts it quarantined:
    it is, as that row). Returns how many are new."""
    if not rows:
        return 0
    statement = (
        dialect_insert(connection, QuarantinedEvent)
        .on_conflict_do_nothing(index_elements=["fingerprint"])
        .returning(QuarantinedEvent.id)
    )
    return len(list(connection.scalars(statement, list(rows))))


def insert_quarantined_isolating(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """`insert_quarantined` in a savepoint; a batch the database refuses is held row by row,
    a refused row with its payload written as ASCII escapes, so that no row is lost. Resolved
    rows with the same fingerprints give them up first (`release_resolved`)."""
    if not rows:
        return 0
    release_resolved(connection, (row["fingerprint"] for row in rows))
    try:
        with connection.begin_nested():
            return insert_quarantined(connection, rows)
    except ROW_REFUSALS:
        pass
    held = 0
    for row in rows:
        try:
            with connection.begin_nested():
                held += insert_quarantined(connection, [row])
        except ROW_REFUSALS as error:
            escaped = {
                key: ascii(value)[1:-1] if isinstance(value, str) else value for key, value in row.items()
            }
            for key in ("transaction_id", "customer_id"):
                escaped[key] = escaped[key][:255] if escaped[key] else escaped[key]
            escaped["detail"] = f"{escaped['detail']} ({_refusal(error)})"
            with connection.begin_nested():
                held += insert_quarantined(connection, [escaped])
    return held


def record_ingest_run(
    connection: sa.Connection, counts: dict[str, Any], started: datetime, finished: datetime
) -> None:
    """Keep what one ingest run received and what became of it."""
    connection.execute(
        sa.insert(IngestRun).values(
            source=counts["source"],
            received=counts["received"],
            accepted=counts["accepted"],
            duplicates=counts["duplicates"],
            quarantined=counts["quarantined"],
            late=counts["late"],
            started_at=started,
            finished_at=finished,
        )
    )
