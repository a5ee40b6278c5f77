"""Set-based invoice writes: a chunk's drafts, lines, finalization and numbers in a few statements.

The same rows as `invoice_records.write_invoice` and `finalize_invoice` write one invoice at a
time, with a statement per table for the whole chunk instead of per invoice: every row of a
draft in one multi-row INSERT ... RETURNING id, every line in one INSERT, every finalization in
one UPDATE ... FROM (VALUES ...) numbered from one advance of the counter. Everything runs in
the caller's transaction: if any statement fails, the caller rolls the whole chunk back, the
counter's advance with it, so numbers stay gap-free.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar, cast

import sqlalchemy as sa

from billing.core.invoicing import InvoiceDraft
from billing.store.corrections import mark_invoiced_many
from billing.store.invoice_records import (
    InvoiceChanged,
    invoice_values,
    line_row,
    next_numbers,
    require_minor_units_of,
)
from billing.store.models import Event, InvoiceLineRow, InvoiceRow

T = TypeVar("T")
INVOICES = cast(sa.Table, InvoiceRow.__table__)
EVENTS = cast(sa.Table, Event.__table__)
ROWS_PER_STATEMENT = 1000  # parameters per row times this stays under SQLite's 32,766


@dataclass(frozen=True, slots=True)
class DraftWrite:
    """A draft to store; `existing_id`: the stored draft it rewrites, keeping its id."""

    draft: InvoiceDraft
    existing_id: int | None


@dataclass(frozen=True, slots=True)
class Finalization:
    """A stored draft to number and freeze; `late_max_id`: the late usage it adjusts."""

    invoice_id: int
    customer_id: str
    due_on: date
    late_max_id: int
    corrections_max_id: int = 0  # the pending backfill corrections it carries, up to this id


def write_invoices(
    connection: sa.Connection, writes: Sequence[DraftWrite], catalog_version_id: int, now: datetime
) -> list[int]:
    """Create or rewrite these drafts and their lines; returns their ids, in order.

    `MoneyError` if an amount is not at minor units; `InvoiceChanged` if a draft to rewrite is
    no longer a draft (another run finalized it)."""
    for write in writes:
        require_minor_units_of(write.draft)
    rewritten = [w.existing_id for w in writes if w.existing_id is not None]
    _lock_drafts(connection, rewritten)
    ids: dict[int, int] = {}  # position in `writes` -> invoice id
    updates = [
        {"b_id": w.existing_id, **invoice_values(w.draft, catalog_version_id, now)}
        for w in writes
        if w.existing_id is not None
    ]
    if updates:
        table = INVOICES
        for batch in _batches(rewritten):
            connection.execute(sa.delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id.in_(batch)))
        connection.execute(
            sa.update(table).where(table.c.id == sa.bindparam("b_id"), table.c.status == "draft"), updates
        )
        ids.update((n, w.existing_id) for n, w in enumerate(writes) if w.existing_id is not None)
    new = [n for n, w in enumerate(writes) if w.existing_id is None]
    for batch in _batches(new):
        inserted = connection.execute(
            sa.insert(InvoiceRow).returning(InvoiceRow.id, sort_by_parameter_order=True),
            [invoice_values(writes[n].draft, catalog_version_id, now) for n in batch],
        ).scalars()
        ids.update(zip(batch, inserted, strict=True))
    lines = [
        {"invoice_id": ids[n], **line_row(i, line)}
        for n, write in enumerate(writes)
        for i, line in enumerate(write.draft.lines)
    ]
    # One prepared INSERT for every line, its rows sent without waiting on each (the driver's
    # executemany); a multi-row VALUES of thousands of lines measured slower on PostgreSQL: the
    # driver parses the long statement text on every execution.
    for rows in _batches(lines):
        connection.execute(sa.insert(InvoiceLineRow), rows)
    return [ids[n] for n in range(len(writes))]


def delete_drafts(connection: sa.Connection, invoice_ids: Sequence[int]) -> None:
    """Delete these drafts (a finalized invoice is never deleted: it is left alone)."""
    for batch in _batches(invoice_ids):
        connection.execute(
            sa.delete(InvoiceRow).where(InvoiceRow.id.in_(batch), InvoiceRow.status == "draft")
        )


def finalize_invoices(connection: sa.Connection, finals: Sequence[Finalization], now: datetime) -> list[str]:
    """Number and freeze these drafts, numbered in the order given from one advance of the
    counter; the late usage they adjusted is no longer pending. Returns their numbers.

    `InvoiceChanged` if one of them is no longer a draft: the caller's rollback then undoes
    the counter's advance too."""
    if not finals:
        return []
    last = next_numbers(connection, len(finals))
    numbers = [f"INV-{n:06d}" for n in range(last - len(finals) + 1, last + 1)]
    frozen: set[int] = set()
    for batch in _batches(list(zip(finals, numbers, strict=True))):
        given = (
            sa.values(
                sa.column("id", sa.Integer),
                sa.column("number", sa.String),
                sa.column("due_on", sa.Date),
                name="numbered",
            )
            .data([(final.invoice_id, number, final.due_on) for final, number in batch])
            .cte("numbered")
        )
        frozen.update(
            connection.scalars(
                sa.update(InvoiceRow)
                .where(InvoiceRow.id == given.c.id, InvoiceRow.status == "draft")
                .values(
                    status="finalized",
                    number=given.c.number,
                    finalized_at=now,
                    due_on=given.c.due_on,
                    updated_at=now,
                )
                .returning(InvoiceRow.id)
            )
        )
    changed = [final for final in finals if final.invoice_id not in frozen]
    if changed:
        first = changed[0]
        raise InvoiceChanged(f"invoice {first.invoice_id} of {first.customer_id!r} is no longer a draft")
    adjusted = [
        {"b_customer": final.customer_id, "b_max": final.late_max_id} for final in finals if final.late_max_id
    ]
    if adjusted:
        table = EVENTS
        connection.execute(
            sa.update(table)
            .where(
                table.c.customer_id == sa.bindparam("b_customer"),
                table.c.pending_adjustment.is_(True),
                table.c.id <= sa.bindparam("b_max"),
            )
            .values(pending_adjustment=False),
            adjusted,
        )
    mark_invoiced_many(
        connection,
        [(f.customer_id, f.invoice_id, f.corrections_max_id) for f in finals if f.corrections_max_id],
    )
    return numbers


def _lock_drafts(connection: sa.Connection, invoice_ids: Sequence[int]) -> None:
    """Lock the drafts to rewrite until commit; `InvoiceChanged` if one is no longer a draft."""
    drafts: set[int] = set()
    for batch in _batches(invoice_ids):
        drafts.update(
            connection.scalars(
                sa.select(InvoiceRow.id)
                .where(InvoiceRow.id.in_(batch), InvoiceRow.status == "draft")
                .with_for_update()
            )
        )
    gone = [invoice_id for invoice_id in invoice_ids if invoice_id not in drafts]
    if gone:
        raise InvoiceChanged(f"invoice {gone[0]} is no longer a draft")


def _batches(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), ROWS_PER_STATEMENT):
        yield items[start : start + ROWS_PER_STATEMENT]


REFUSED = (sa.exc.IntegrityError, sa.exc.DataError)
"""What the database raises when it refuses a row (a check, a trigger of migration 0003)."""


def refusal(error: sa.exc.DBAPIError) -> str:
    """One line for an operator: what the database said, without the statement."""
    said = str(error.orig).strip().splitlines()
    return "the database refused the invoice: " + (said[0] if said else type(error.orig).__name__)
