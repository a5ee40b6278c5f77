"""Working the quarantine: retry held rows through ingestion once, discard them, audit both.

A retry feeds held rows back through ingestion with the active catalog, each row's id as its
record position, so the report's rejections say which rows failed again. A batch of rows is
claimed, stored and resolved in one transaction under the billing lock (`claim_held`): of two
runs retrying (or discarding) the same rows, one wins them and the other reports them skipped,
"retried by another run meanwhile", so an event is never reported accepted twice. What became
of each row:
- accepted or a duplicate (same transaction id and payload as a stored event): `retried`, with
  that resolution;
- rejected again: it stays `held`, with the reason it fails for now. Ingestion held it a second
  time under the new reason; that copy is removed and the original takes its fingerprint, so a
  row is never held twice.
Each row retried or discarded gets an audit row (`quarantine_actions`): who, when, the note,
the outcome. A crash leaves the batch as it was: held, nothing stored.

A row retried or discarded keeps its fingerprint only until the same bad row is sent again;
then that receipt is held as a new row (`usage_events.release_resolved`), so every row a run
counts quarantined is one `quarantine list` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.core.errors import BillingError
from billing.core.events import loads
from billing.services.ingest import IngestReport, prepare_chunk, store_prepared
from billing.sources.usage_files import RawRecord
from billing.store import quarantine as store
from billing.store.database import lock_billing
from billing.store.quarantine import ActionRecord, QuarantinedRow, QuarantineFilter, Rehold
from billing.store.usage_events import quarantine_fingerprint, stored_hashes
from billing.validation.suite import EventSuite

RETRY_BATCH = 1_000  # an IngestReport keeps its first 1,000 rejections: all of a batch's
RETRY_SOURCE = "quarantine retry"
UNREADABLE = "unreadable_row"


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
            how = "" if row.resolution in (None, row.status) else f" ({row.resolution})"
            skipped.append(f"row {id_} is {row.status}{how} already: left as it is")
    return rows, skipped


def retry_rows(
    engine: Engine, catalog: Catalog, suite: EventSuite, rows: Sequence[QuarantinedRow], who: Operator
) -> QuarantineReport:
    report = QuarantineReport("retry")
    for start in range(0, len(rows), RETRY_BATCH):
        _retry_batch(engine, catalog, suite, rows[start : start + RETRY_BATCH], who, report)
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
        _retry_batch(engine, catalog, suite, batch, who, report)
        after = batch[-1].id


def _retry_batch(
    engine: Engine,
    catalog: Catalog,
    suite: EventSuite,
    rows: Sequence[QuarantinedRow],
    who: Operator,
    report: QuarantineReport,
) -> None:
    """Claim the rows still held, store them and resolve them, in one transaction; rows another
    run resolved meanwhile go to `report.skipped`. Validation runs before the lock is taken."""
    prepared = prepare_chunk(catalog, suite, _records(rows), RETRY_SOURCE, who.now)
    with engine.begin() as connection:
        lock_billing(connection)
        claimed = store.claim_held(connection, [row.id for row in rows])
        report.skipped += _taken_meanwhile(connection, rows, claimed)
        if not claimed:
            return
        if len(claimed) < len(rows):  # rarely: another run took some; validate the rest alone
            prepared = prepare_chunk(catalog, suite, _records(claimed), RETRY_SOURCE, who.now)
        stored_before = stored_hashes(connection, (r.transaction_id for r in claimed if r.transaction_id))
        newest = store.newest_id(connection)
        ingested = store_prepared(connection, prepared)
        outcomes = _outcomes(claimed, ingested, set(stored_before))
        _keep_one_copy(connection, claimed, outcomes, newest)
        resolved = {o.id: o.outcome for o in outcomes if o.outcome != "held"}
        store.resolve(connection, resolved, "retried", who.now)
        store.record_actions(connection, [_action("retry", o, who) for o in outcomes])
    report.outcomes += outcomes


def _records(rows: Sequence[QuarantinedRow]) -> list[RawRecord]:
    return [_record(row) for row in rows]


def _record(row: QuarantinedRow) -> RawRecord:
    """The row to ingest again. A row held as unreadable keeps what could be seen of it (a CSV
    line of the wrong width, bytes written with escapes, the first 64 KiB of a long row): not
    JSON, and read as JSON it would only be held again as `malformed_json`, its reason and
    detail lost. Such a row is held again for why it could not be read."""
    if row.reason == UNREADABLE and not _is_json(row.payload):
        return RawRecord(row.id, text=row.payload, unreadable=row.detail)
    return RawRecord(row.id, text=row.payload)


def _is_json(text: str) -> bool:
    try:
        loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _taken_meanwhile(
    connection: sa.Connection, rows: Sequence[QuarantinedRow], claimed: Sequence[QuarantinedRow]
) -> list[str]:
    """A line for each row that was held when selected and is no longer: another run's."""
    gone = {row.id for row in rows} - {row.id for row in claimed}
    if not gone:
        return []
    now = store.quarantined_by_id(connection, gone)
    return [
        f"row {id_} was {now[id_].status} ({now[id_].resolution}) by another run meanwhile: left as it is"
        for id_ in sorted(gone)
    ]


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
    """Discard the rows still held, claimed as a retry claims them; the others are skipped."""
    report = QuarantineReport("discard")
    with engine.begin() as connection:
        lock_billing(connection)
        claimed = store.claim_held(connection, [row.id for row in rows])
        report.skipped += _taken_meanwhile(connection, rows, claimed)
        report.outcomes = [RowOutcome(row.id, "discarded") for row in claimed]
        store.resolve(connection, {row.id: "discarded" for row in claimed}, "discarded", who.now)
        store.record_actions(connection, [_action("discard", o, who) for o in report.outcomes])
    return report


def _action(action: str, outcome: RowOutcome, who: Operator) -> ActionRecord:
    return ActionRecord(
        outcome.id, action, outcome.outcome, who.actor, who.now, outcome.reason, outcome.detail, who.note
    )
