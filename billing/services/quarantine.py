"""Working the quarantine: retry held rows through ingestion once, discard them, audit both.

A retry feeds held rows back through `ingest_records` with the active catalog, each row's id as
its record position, so the report's rejections say which rows failed again. What became of
each row is then written in one transaction:
- accepted or a duplicate (same transaction id and payload as a stored event): `retried`, with
  that resolution;
- rejected again: it stays `held`, with the reason it fails for now. Ingestion held it a second
  time under the new reason; that copy is removed and the original takes its fingerprint, so a
  row is never held twice.
Each row retried or discarded gets an audit row (`quarantine_actions`): who, when, the note,
the outcome. A crash between the ingest and the bookkeeping is harmless: the accepted events
come back as duplicates on the next retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.core.errors import BillingError
from billing.services.ingest import IngestReport, ingest_records
from billing.sources.usage_files import RawRecord
from billing.store import quarantine as store
from billing.store.quarantine import ActionRecord, QuarantinedRow, QuarantineFilter, Rehold
from billing.store.usage_events import quarantine_fingerprint, stored_hashes
from billing.validation.suite import EventSuite

RETRY_BATCH = 1_000  # an IngestReport keeps its first 1,000 rejections: all of a batch's
RETRY_SOURCE = "quarantine retry"


class UnknownQuarantinedRow(BillingError):
    code = "unknown_quarantined_row"


@dataclass(frozen=True, slots=True)
class RowOutcome:
    id: int
    outcome: str  # accepted | duplicate | held | discarded
    reason: str | None = None  # held again: why
    detail: str | None = None


@dataclass
class QuarantineReport:
    """What a retry or a discard did, row by row; `skipped` names rows that were not held."""

    action: str
    outcomes: list[RowOutcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)


@dataclass(frozen=True, slots=True)
class Operator:
    """Who acts and why: kept on every audit row."""

    actor: str
    note: str | None
    now: datetime


def selected_rows(engine: Engine, ids: Sequence[int]) -> tuple[list[QuarantinedRow], list[str]]:
    """The named rows that are held, and a line for each that is not. Unknown ids are refused
    before anything is done."""
    with engine.connect() as connection:
        found = store.quarantined_by_id(connection, ids)
    unknown = sorted(set(ids) - set(found))
    if unknown:
        raise UnknownQuarantinedRow(f"no quarantined row with id {', '.join(map(str, unknown))}")
    rows, skipped = [], []
    for id_ in dict.fromkeys(ids):
        row = found[id_]
        if row.status == "held":
            rows.append(row)
        else:
            skipped.append(f"row {id_} is {row.status} ({row.resolution}) already: left as it is")
    return rows, skipped


def retry_rows(
    engine: Engine, catalog: Catalog, suite: EventSuite, rows: Sequence[QuarantinedRow], who: Operator
) -> QuarantineReport:
    report = QuarantineReport("retry")
    for start in range(0, len(rows), RETRY_BATCH):
        report.outcomes += _retry_batch(engine, catalog, suite, rows[start : start + RETRY_BATCH], who)
    return report


def retry_matching(
    engine: Engine, catalog: Catalog, suite: EventSuite, where: QuarantineFilter, who: Operator
) -> QuarantineReport:
    """Every held row matching `where`, each once: rows held again stay behind the cursor."""
    report = QuarantineReport("retry")
    held = QuarantineFilter("held", where.reason, where.source, where.customer)
    after = 0
    while True:
        with engine.connect() as connection:
            batch = store.held_after(connection, held, after, RETRY_BATCH)
        if not batch:
            return report
        report.outcomes += _retry_batch(engine, catalog, suite, batch, who)
        after = batch[-1].id


def _retry_batch(
    engine: Engine, catalog: Catalog, suite: EventSuite, rows: Sequence[QuarantinedRow], who: Operator
) -> list[RowOutcome]:
    with engine.connect() as connection:
        stored_before = stored_hashes(connection, (r.transaction_id for r in rows if r.transaction_id))
        newest = store.newest_id(connection)
    records = [RawRecord(row.id, text=row.payload) for row in rows]
    ingested = ingest_records(engine, catalog, suite, records, RETRY_SOURCE, who.now)
    outcomes = _outcomes(rows, ingested, set(stored_before))
    with engine.begin() as connection:
        _keep_one_copy(connection, rows, outcomes, newest)
        resolved = {o.id: o.outcome for o in outcomes if o.outcome != "held"}
        store.resolve(connection, resolved, "retried", who.now)
        store.record_actions(connection, [_action("retry", o, who) for o in outcomes])
    return outcomes


def _outcomes(rows: Sequence[QuarantinedRow], ingested: IngestReport, stored: set[str]) -> list[RowOutcome]:
    """Per row: rejected again (by position), else accepted or a duplicate. Of rows sharing a
    transaction id, the first not rejected is the one accepted, unless one was stored before."""
    failed = {r.position: r for r in ingested.rejections}
    seen = set(stored)
    outcomes = []
    for row in rows:
        rejection = failed.get(row.id)
        if rejection is not None:
            outcomes.append(RowOutcome(row.id, "held", rejection.reason, rejection.detail))
        elif row.transaction_id in seen:
            outcomes.append(RowOutcome(row.id, "duplicate"))
        else:
            seen.add(row.transaction_id or "")
            outcomes.append(RowOutcome(row.id, "accepted"))
    return outcomes


def _keep_one_copy(
    connection: sa.Connection, rows: Sequence[QuarantinedRow], outcomes: list[RowOutcome], newest: int
) -> None:
    """A row held again under another reason was held a second time by the ingest: remove that
    copy and give the original the new reason and fingerprint."""
    by_id = {row.id: row for row in rows}
    again = [(by_id[o.id], o) for o in outcomes if o.outcome == "held"]
    new_prints = {row.id: quarantine_fingerprint(o.reason or "", row.payload) for row, o in again}
    holder = store.holders(connection, new_prints.values())
    copies, reholds = [], []
    for row, outcome in again:
        fingerprint = new_prints[row.id]
        current = holder.get(fingerprint)
        take = current is None or current == row.id or current > newest  # a copy this retry made
        if current is not None and current > newest:
            copies.append(current)
        if take:
            holder[fingerprint] = row.id
        if (outcome.reason, outcome.detail, fingerprint) == (row.reason, row.detail, row.fingerprint):
            continue  # fails as it did: nothing to write but the audit row
        reholds.append(
            Rehold(row.id, outcome.reason or "", outcome.detail or "", fingerprint if take else None)
        )
    store.delete_copies(connection, copies)
    store.rehold(connection, reholds)


def discard_rows(engine: Engine, rows: Sequence[QuarantinedRow], who: Operator) -> QuarantineReport:
    report = QuarantineReport("discard", [RowOutcome(row.id, "discarded") for row in rows])
    with engine.begin() as connection:
        store.resolve(connection, {row.id: "discarded" for row in rows}, "discarded", who.now)
        store.record_actions(connection, [_action("discard", o, who) for o in report.outcomes])
    return report


def _action(action: str, outcome: RowOutcome, who: Operator) -> ActionRecord:
    return ActionRecord(
        outcome.id, action, outcome.outcome, who.actor, who.now, outcome.reason, outcome.detail, who.note
    )
