"""The quarantine as an operator works it: find held rows, mark what became of them, audit it.

Rows get into quarantine through `usage_events.insert_quarantined` (ingestion); this module reads
them back, moves them out of `held` (`retried`, `discarded`) and keeps one `quarantine_actions`
row per retry or discard: who, when, why, and the outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from billing.store.database import one_of
from billing.store.models import QuarantineAction, QuarantinedEvent
from billing.store.types import MAX_BIG_ID

STATUSES = ("held", "retried", "discarded")
_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    id: int
    reason: str
    detail: str
    source: str
    line: int | None
    transaction_id: str | None
    customer_id: str | None
    payload: str
    fingerprint: str
    status: str
    received_at: datetime
    resolution: str | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    """Which rows: every given criterion must hold. `source` matches part of the source."""

    status: str | None = "held"  # None: any status
    reason: str | None = None
    source: str | None = None
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One audit row: a retry or a discard of a quarantined row."""

    quarantined_id: int
    action: str  # retry | discard
    outcome: str  # accepted | duplicate | held | discarded
    actor: str
    acted_at: datetime
    reason: str | None = None
    detail: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Rehold:
    """A retried row that failed again: its new reason, and the fingerprint it may now take."""

    id: int
    reason: str
    detail: str
    fingerprint: str | None  # None: keep the current one (another row holds the new one)


_COLUMNS = (
    QuarantinedEvent.id,
    QuarantinedEvent.reason,
    QuarantinedEvent.detail,
    QuarantinedEvent.source,
    QuarantinedEvent.line,
    QuarantinedEvent.transaction_id,
    QuarantinedEvent.customer_id,
    QuarantinedEvent.payload,
    QuarantinedEvent.fingerprint,
    QuarantinedEvent.status,
    QuarantinedEvent.received_at,
    QuarantinedEvent.resolution,
    QuarantinedEvent.resolved_at,
)


def _matching(statement: sa.Select[Any], where: QuarantineFilter) -> sa.Select[Any]:
    if where.status is not None:
        statement = statement.where(QuarantinedEvent.status == where.status)
    if where.reason is not None:
        statement = statement.where(QuarantinedEvent.reason == where.reason)
    if where.customer is not None:
        statement = statement.where(QuarantinedEvent.customer_id == where.customer)
    if where.source is not None:
        pattern = "%" + where.source.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(QuarantinedEvent.source.like(pattern, escape="\\"))
    return statement


def _row(values: sa.Row[Any]) -> QuarantinedRow:
    return QuarantinedRow(*values)


def find_quarantined(connection: sa.Connection, where: QuarantineFilter, limit: int) -> list[QuarantinedRow]:
    """The matching rows, newest first, at most `limit` (a larger one than any id: all of them)."""
    statement = _matching(sa.select(*_COLUMNS), where).order_by(QuarantinedEvent.id.desc())
    statement = statement.limit(min(limit, MAX_BIG_ID))
    return [_row(values) for values in connection.execute(statement)]


def count_quarantined(connection: sa.Connection, where: QuarantineFilter) -> int:
    statement = _matching(sa.select(sa.func.count()).select_from(QuarantinedEvent), where)
    return int(connection.execute(statement).scalar_one())


def held_after(
    connection: sa.Connection, where: QuarantineFilter, after: int, limit: int
) -> list[QuarantinedRow]:
    """The next matching rows by id past `after`, oldest first: a retry walks them once."""
    statement = (
        _matching(sa.select(*_COLUMNS), where)
        .where(QuarantinedEvent.id > after)
        .order_by(QuarantinedEvent.id)
        .limit(limit)
    )
    return [_row(values) for values in connection.execute(statement)]


def _ids_in(connection: sa.Connection, ids: list[int]) -> Any:
    """`id IN (ids)`: one array parameter on PostgreSQL (see `database.one_of`, which is for text)."""
    if connection.dialect.name == "postgresql":
        return QuarantinedEvent.id == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.BigInteger)))
    return QuarantinedEvent.id.in_(ids)


def _possible(ids: Iterable[int]) -> list[int]:
    """The ids a row can have, sorted: one past a 64-bit id names no row (and would overflow)."""
    return sorted({id_ for id_ in ids if 1 <= id_ <= MAX_BIG_ID})


def quarantined_by_id(connection: sa.Connection, ids: Iterable[int]) -> dict[int, QuarantinedRow]:
    wanted = _possible(ids)
    if not wanted:
        return {}
    found: dict[int, QuarantinedRow] = {}
    for start in range(0, len(wanted), _BATCH):
        statement = sa.select(*_COLUMNS).where(_ids_in(connection, wanted[start : start + _BATCH]))
        found.update({row.id: row for row in map(_row, connection.execute(statement))})
    return found


def claim_held(connection: sa.Connection, ids: Iterable[int]) -> list[QuarantinedRow]:
    """Of the named rows, those still held, as they are now, locked until the transaction ends:
    a row is retried or discarded by one run only. PostgreSQL: `FOR UPDATE`, in id order (a run
    naming the same rows waits, then finds them resolved); SQLite: the caller holds the
    database's write lock (`lock_billing`), which serializes the runs whole."""
    wanted = _possible(ids)
    claimed: list[QuarantinedRow] = []
    for start in range(0, len(wanted), _BATCH):
        statement = (
            sa.select(*_COLUMNS)
            .where(_ids_in(connection, wanted[start : start + _BATCH]), QuarantinedEvent.status == "held")
            .order_by(QuarantinedEvent.id)
            .with_for_update()
        )
        claimed += map(_row, connection.execute(statement))
    return claimed


def newest_id(connection: sa.Connection) -> int:
    return int(
        connection.execute(sa.select(sa.func.coalesce(sa.func.max(QuarantinedEvent.id), 0))).scalar_one()
    )


def holders(connection: sa.Connection, fingerprints: Iterable[str]) -> dict[str, int]:
    """The id of the row holding each fingerprint, for those held."""
    wanted = sorted(set(fingerprints))
    if not wanted:
        return {}
    rows = connection.execute(
        sa.select(QuarantinedEvent.fingerprint, QuarantinedEvent.id).where(
            one_of(connection, QuarantinedEvent.fingerprint, wanted)
        )
    )
    return {fingerprint: id_ for fingerprint, id_ in rows}


def delete_copies(connection: sa.Connection, ids: Sequence[int]) -> None:
    """Remove rows a retry held a second time (the original keeps the new reason)."""
    if ids:
        connection.execute(sa.delete(QuarantinedEvent).where(_ids_in(connection, list(ids))))


def resolve(connection: sa.Connection, resolutions: dict[int, str], status: str, now: datetime) -> None:
    """Move held rows to `status` (retried, discarded) with what became of each."""
    if not resolutions:
        return
    connection.execute(
        sa.update(QuarantinedEvent)
        .where(QuarantinedEvent.id == sa.bindparam("row_id"))
        .values(status=status, resolution=sa.bindparam("resolution"), resolved_at=now),
        [{"row_id": id_, "resolution": resolution} for id_, resolution in resolutions.items()],
    )


def rehold(connection: sa.Connection, reholds: Sequence[Rehold]) -> None:
    """Rows that failed again stay held, with the reason they fail for now (one statement per
    kind of change, executed for many rows)."""
    with_print = [r for r in reholds if r.fingerprint is not None]
    without = [r for r in reholds if r.fingerprint is None]
    row_id = QuarantinedEvent.id == sa.bindparam("row_id")
    reason: sa.BindParameter[str] = sa.bindparam("new_reason")
    detail: sa.BindParameter[str] = sa.bindparam("new_detail")
    if with_print:
        connection.execute(
            sa.update(QuarantinedEvent)
            .where(row_id)
            .values(reason=reason, detail=detail, fingerprint=sa.bindparam("new_fingerprint")),
            [
                {
                    "row_id": r.id,
                    "new_reason": r.reason,
                    "new_detail": r.detail,
                    "new_fingerprint": r.fingerprint,
                }
                for r in with_print
            ],
        )
    if without:
        connection.execute(
            sa.update(QuarantinedEvent).where(row_id).values(reason=reason, detail=detail),
            [{"row_id": r.id, "new_reason": r.reason, "new_detail": r.detail} for r in without],
        )


def record_actions(connection: sa.Connection, actions: Sequence[ActionRecord]) -> None:
    if not actions:
        return
    connection.execute(
        sa.insert(QuarantineAction),
        [
            {
                "quarantined_id": a.quarantined_id,
                "action": a.action,
                "outcome": a.outcome,
                "reason": a.reason,
                "detail": a.detail,
                "note": a.note,
                "actor": a.actor,
                "acted_at": a.acted_at,
            }
            for a in actions
        ],
    )


def actions_of(connection: sa.Connection, quarantined_id: int) -> list[ActionRecord]:
    """A row's audit trail, oldest first."""
    a = QuarantineAction
    rows = connection.execute(
        sa.select(a.quarantined_id, a.action, a.outcome, a.actor, a.acted_at, a.reason, a.detail, a.note)
        .where(a.quarantined_id == quarantined_id)
        .order_by(a.id)
    )
    return [ActionRecord(*values) for values in rows]
