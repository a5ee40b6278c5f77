"""Invoice states after finalization (SPEC §8a): paid, or void with the credit note reversing it.

`draft -> finalized -> paid | void`. Paying or voiding moves a finalized invoice in one UPDATE
guarded by its status, so of two racing requests one moves it and the other finds it moved.
Voiding writes, in the same transaction, the credit note (`CN-000001`, its own gap-free counter,
`billing.store.credit_notes`): what the invoice still bills (its lines and taxes minus the
credit notes a backfill issued for it already) negated, and the prepaid credits it burned given
back. Its lines mark what the invoice billed as reversed, so invoice runs do not bill that
period again (`billing.core.invoicing.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from billing.core.errors import InvoiceStateError, UnknownInvoice
from billing.store.credit_notes import void_credit_note
from billing.store.database import lock_billing
from billing.store.models import CustomerRow, InvoiceRow


@dataclass(frozen=True, slots=True)
class StateChange:
    """What a pay or void did: `changed` False when the invoice was in that state already."""

    number: str
    customer_id: str
    status: str
    changed: bool
    at: datetime | None  # paid_at or voided_at
    credit_note_id: int | None = None  # a void's credit note


def pay_invoice(connection: sa.Connection, number: str, now: datetime) -> StateChange:
    """finalized -> paid; an invoice paid already is reported unchanged; anything else refused."""
    moved = connection.execute(
        sa.update(InvoiceRow)
        .where(InvoiceRow.number == number, InvoiceRow.kind == "invoice", InvoiceRow.status == "finalized")
        .values(status="paid", paid_at=now, updated_at=now)
        .returning(InvoiceRow.customer_id)
    ).scalar_one_or_none()
    if moved is not None:
        return StateChange(number, moved, "paid", True, now)
    row = _current(connection, number, "paid")
    return StateChange(number, row.customer_id, "paid", False, row.paid_at)


def void_invoice(connection: sa.Connection, number: str, now: datetime) -> StateChange:
    """finalized -> void, with its credit note; a void invoice is reported with the credit note
    that voided it; anything else refused. Takes the billing lock: an invoice run sees the void
    and its credit note whole, or not at all."""
    lock_billing(connection)
    moved = connection.execute(
        sa.update(InvoiceRow)
        .where(InvoiceRow.number == number, InvoiceRow.kind == "invoice", InvoiceRow.status == "finalized")
        .values(status="void", voided_at=now, updated_at=now)
        .returning(InvoiceRow.id, InvoiceRow.customer_id)
    ).one_or_none()
    if moved is None:
        row = _current(connection, number, "void")
        credit_note = connection.scalar(
            sa.select(InvoiceRow.id).where(InvoiceRow.corrects == number, InvoiceRow.reason == "void")
        )
        return StateChange(number, row.customer_id, "void", False, row.voided_at, credit_note)
    invoice_id, customer_id = moved
    credit_note = void_credit_note(connection, invoice_id, now)
    return StateChange(number, customer_id, "void", True, now, credit_note)


def _current(connection: sa.Connection, number: str, target: str) -> Any:
    """The row an unmoved invoice is in, when it is in `target` already; else why it cannot move."""
    row = connection.execute(
        sa.select(
            InvoiceRow.customer_id,
            InvoiceRow.kind,
            InvoiceRow.status,
            InvoiceRow.paid_at,
            InvoiceRow.voided_at,
        ).where(InvoiceRow.number == number)
    ).one_or_none()
    action = "paid" if target == "paid" else "voided"
    if row is None:
        raise UnknownInvoice.numbered(number)
    if row.kind != "invoice":
        raise InvoiceStateError(f"{number} is a credit note: it cannot be {action}")
    if row.status != target:
        raise InvoiceStateError(f"invoice {number} is {row.status}: only a finalized invoice can be {action}")
    return row


def customer_contact(connection: sa.Connection, customer_id: str) -> tuple[str, str] | None:
    """The customer's display name and email, as the active catalog has them."""
    row = connection.execute(
        sa.select(CustomerRow.name, CustomerRow.email).where(CustomerRow.id == customer_id)
    ).one_or_none()
    return None if row is None else (row.name or customer_id, row.email)
