"""Invoice states after finalization (SPEC §8a): paid, or void with the credit note reversing it.

`draft -> finalized -> paid | void`. Paying or voiding moves a finalized invoice in one UPDATE
guarded by its status, so of two racing requests one moves it and the other finds it moved.
Voiding writes, in the same transaction, the credit note (`CN-000001`, its own gap-free counter):
every line, tax, credit and total of the invoice negated, inserted as a draft and finalized in
one UPDATE like any invoice, and immutable the same way. Its negative credits give back the
prepaid credits the invoice burned; its negated lines mark what the invoice billed as reversed,
so invoice runs do not bill that period again (`billing.core.invoicing.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from billing.core.errors import InvoiceStateError, UnknownInvoice
from billing.core.invoicing import rating_fingerprint
from billing.core.local_days import local_day
from billing.store.database import lock_billing
from billing.store.invoice_records import next_number
from billing.store.models import CustomerRow, InvoiceLineRow, InvoiceRow

CREDIT_NOTE_COUNTER = "credit_note"


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
        credit_note = connection.scalar(sa.select(InvoiceRow.id).where(InvoiceRow.corrects == number))
        return StateChange(number, row.customer_id, "void", False, row.voided_at, credit_note)
    invoice_id, customer_id = moved
    credit_note = _write_credit_note(connection, invoice_id, now)
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
        raise UnknownInvoice(f"no invoice numbered {number!r}")
    if row.kind != "invoice":
        raise InvoiceStateError(f"{number} is a credit note: it cannot be {action}")
    if row.status != target:
        raise InvoiceStateError(f"invoice {number} is {row.status}: only a finalized invoice can be {action}")
    return row


def _write_credit_note(connection: sa.Connection, invoice_id: int, now: datetime) -> int:
    invoice = connection.execute(sa.select(InvoiceRow.__table__).where(InvoiceRow.id == invoice_id)).one()
    issued_at = _free_instant(connection, invoice.customer_id, now)
    values = {
        "customer_id": invoice.customer_id,
        "status": "draft",
        "kind": "credit_note",
        "corrects": invoice.number,
        "currency": invoice.currency,
        "timezone": invoice.timezone,
        "boundary": invoice.boundary,
        "issued_at": issued_at,
        "issued_on": local_day(issued_at, ZoneInfo(invoice.timezone)),
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "subtotal": -invoice.subtotal,
        "credits_applied": -invoice.credits_applied,
        "total": -invoice.total,
        "credits": [[key, -Decimal(amount)] for key, amount in invoice.credits],
        "taxes": [[name, rate, f"{-Decimal(amount):f}"] for name, rate, amount in invoice.taxes],
        "fingerprint": rating_fingerprint("credit note", invoice.number, invoice.fingerprint),
        "catalog_version_id": invoice.catalog_version_id,
        "updated_at": now,
    }
    credit_note_id = connection.execute(
        sa.insert(InvoiceRow).values(**values).returning(InvoiceRow.id)
    ).scalar_one()
    lines = connection.execute(
        sa.select(InvoiceLineRow.__table__)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(InvoiceLineRow.position)
    ).all()
    rows = [
        {
            "invoice_id": credit_note_id,
            "position": line.position,
            "line_contract": line.line_contract,
            "line_period": line.line_period,
            "line_charge": line.line_charge,
            "kind": line.kind,
            "description": line.description,
            "metric": line.metric,
            "quantity": -line.quantity,
            "amount": -line.amount,
            "period_start": line.period_start,
            "period_end": line.period_end,
            "tiers": [
                {**tier, "quantity": -Decimal(tier["quantity"]), "amount": -Decimal(tier["amount"])}
                for tier in line.tiers
            ],
        }
        for line in lines
    ]
    if rows:
        connection.execute(sa.insert(InvoiceLineRow), rows)
    number = f"CN-{next_number(connection, CREDIT_NOTE_COUNTER):06d}"
    connection.execute(
        sa.update(InvoiceRow)
        .where(InvoiceRow.id == credit_note_id, InvoiceRow.status == "draft")
        .values(status="finalized", number=number, finalized_at=now, updated_at=now)
    )
    return credit_note_id


def _free_instant(connection: sa.Connection, customer_id: str, now: datetime) -> datetime:
    """`now`, or the first microsecond after it that no document of the customer is issued at
    (issue instants are unique per customer)."""
    taken = set(
        connection.scalars(
            sa.select(InvoiceRow.issued_at).where(
                InvoiceRow.customer_id == customer_id,
                InvoiceRow.issued_at >= now,
                InvoiceRow.issued_at < now + timedelta(seconds=1),
            )
        )
    )
    instant = now
    while instant in taken:
        instant += timedelta(microseconds=1)
    return instant


def customer_contact(connection: sa.Connection, customer_id: str) -> tuple[str, str] | None:
    """The customer's display name and email, as the active catalog has them."""
    row = connection.execute(
        sa.select(CustomerRow.name, CustomerRow.email).where(CustomerRow.id == customer_id)
    ).one_or_none()
    return None if row is None else (row.name or customer_id, row.email)
