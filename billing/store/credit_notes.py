"""Credit notes: the one writer of every credit note, and what an invoice still bills.

A credit note is a document of the `invoices` table (`kind = 'credit_note'`) naming the invoice
it credits (`corrects`) and why (`reason`): `void` reverses what the invoice still bills,
`backfill` credits what a backfill found it overcharged, `remainder` carries the negative lines
an invoice could not (an invoice total never goes below zero). Whatever the reason, it is
inserted as a draft with its lines and finalized in one UPDATE that numbers it from its own
gap-free counter (`CN-000001`), in the caller's transaction: the immutability triggers refuse
any later change to it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from billing.core.invoicing import rating_fingerprint
from billing.core.local_days import local_day
from billing.core.money import ZERO
from billing.core.taxes import TaxLine, tax_total
from billing.store.invoice_records import next_number, taxes_from_row, taxes_row
from billing.store.models import InvoiceLineRow, InvoiceRow

CREDIT_NOTE_COUNTER = "credit_note"
Reason = Literal["void", "backfill", "remainder"]


def invoice_row(connection: sa.Connection, invoice_id: int) -> Any:
    """The stored row of the invoice a credit note is about to credit."""
    return connection.execute(sa.select(InvoiceRow.__table__).where(InvoiceRow.id == invoice_id)).one()


def issue_credit_note(
    connection: sa.Connection,
    invoice: Any,
    reason: Reason,
    lines: Sequence[dict[str, Any]],
    taxes: Sequence[TaxLine],
    now: datetime,
    credits: Sequence[tuple[str, Decimal]] = (),
) -> int:
    """Write and finalize a credit note of `invoice` (its stored row); returns its id.

    `lines` are invoice line rows (`invoice_records.line_row`, signed as credited: negative),
    `taxes` its tax lines and `credits` the prepaid credits it gives back (negative amounts);
    subtotal, credits applied and total follow from them."""
    subtotal = sum((Decimal(line["amount"]) for line in lines), ZERO)
    credits_applied = sum((amount for _, amount in credits), ZERO)
    issued_at = _free_instant(connection, invoice.customer_id, now)
    inputs: tuple[object, ...] = ("credit note", invoice.number, invoice.fingerprint)
    if reason != "void":  # a void's fingerprint is what it was before reasons were kept
        inputs += (reason, issued_at, subtotal)
    values = {
        "customer_id": invoice.customer_id,
        "status": "draft",
        "kind": "credit_note",
        "reason": reason,
        "corrects": invoice.number,
        "currency": invoice.currency,
        "timezone": invoice.timezone,
        "boundary": invoice.boundary,
        "issued_at": issued_at,
        "issued_on": local_day(issued_at, ZoneInfo(invoice.timezone)),
        "period_start": invoice.period_start,
        "period_end": invoice.period_end,
        "subtotal": subtotal,
        "credits_applied": credits_applied,
        "total": subtotal + tax_total(taxes) - credits_applied,
        "credits": [[key, amount] for key, amount in credits],
        "taxes": taxes_row(taxes),
        "fingerprint": rating_fingerprint(*inputs),
        "catalog_version_id": invoice.catalog_version_id,
        "updated_at": now,
    }
    credit_note_id = connection.execute(
        sa.insert(InvoiceRow).values(**values).returning(InvoiceRow.id)
    ).scalar_one()
    rows = [{**line, "invoice_id": credit_note_id, "position": n} for n, line in enumerate(lines)]
    if rows:
        connection.execute(sa.insert(InvoiceLineRow), rows)
    number = f"CN-{next_number(connection, CREDIT_NOTE_COUNTER):06d}"
    connection.execute(
        sa.update(InvoiceRow)
        .where(InvoiceRow.id == credit_note_id, InvoiceRow.status == "draft")
        .values(status="finalized", number=number, finalized_at=now, updated_at=now)
    )
    return credit_note_id


def void_credit_note(connection: sa.Connection, invoice_id: int, now: datetime) -> int:
    """The credit note that voids an invoice: it reverses what the invoice still bills (its
    lines and taxes minus the credit notes issued for it already, never more) and gives back
    the prepaid credits it burned."""
    invoice = invoice_row(connection, invoice_id)
    own = _lines(connection, invoice_id)
    keys = {(line.line_contract, line.line_period, line.line_charge) for line in own}
    credited, credited_taxes = _credited(connection, invoice.number, keys)
    lines = []
    for line in own:
        key = (line.line_contract, line.line_period, line.line_charge)
        amount, quantity = credited.get(key, (ZERO, ZERO))
        remaining = line.amount + amount
        if line.amount > 0 and remaining < 0:
            remaining = ZERO  # credited beyond what this invoice billed for it: nothing left here
        if remaining == 0 and line.amount != 0:
            continue
        row = {column: getattr(line, column) for column in _LINE_COLUMNS}
        tiers = line.tiers if amount == 0 else []  # a partly credited line is no longer its tiers
        row.update(
            quantity=-(line.quantity + quantity),
            amount=-remaining,
            tiers=[
                {**tier, "quantity": -Decimal(tier["quantity"]), "amount": -Decimal(tier["amount"])}
                for tier in tiers
            ],
        )
        lines.append(row)
    taxes = [  # what is left of each tax, never a tax charged by a credit note
        TaxLine(tax.name, tax.rate, min(ZERO, -(tax.amount + credited_taxes.get(tax.name, ZERO))))
        for tax in taxes_from_row(invoice.taxes)
    ]
    reversed_total = -(
        sum((Decimal(r["amount"]) for r in lines), ZERO) + sum((t.amount for t in taxes), ZERO)
    )
    credits = _credits_back(invoice.credits, reversed_total)
    return issue_credit_note(connection, invoice, "void", lines, taxes, now, credits)


def _credits_back(burned: Sequence[Any], reversed_total: Decimal) -> list[tuple[str, Decimal]]:
    """The prepaid credits a void gives back: what the invoice burned, but never more than the
    void reverses (a backfill's credit note may already have given part of it back as money),
    so a credit note's total is never above zero. Earliest grants first, as they were burned."""
    left = max(reversed_total, ZERO)
    back = []
    for key, amount in burned:
        given = min(Decimal(amount), left)
        left -= given
        if given:
            back.append((key, -given))
    return back


_LINE_COLUMNS = (
    "line_contract", "line_period", "line_charge", "kind", "description", "metric",
    "period_start", "period_end",
)  # fmt: skip


def _lines(connection: sa.Connection, invoice_id: int) -> Sequence[Any]:
    return connection.execute(
        sa.select(InvoiceLineRow.__table__)
        .where(InvoiceLineRow.invoice_id == invoice_id)
        .order_by(InvoiceLineRow.position)
    ).all()


def _credited(
    connection: sa.Connection, number: str, keys: set[tuple[Any, Any, str]]
) -> tuple[dict[tuple[Any, Any, str], tuple[Decimal, Decimal]], dict[str, Decimal]]:
    """What the credit notes of invoice `number` credited of its own lines already: amount and
    quantity by line key, and amount by tax name (all negative). Only notes that credit lines
    of this invoice (`keys`) count: a remainder's credit note, or a backfill's that credits
    another invoice's keys, credits other periods, not what this invoice billed."""
    notes = connection.execute(
        sa.select(InvoiceRow.id, InvoiceRow.taxes).where(
            InvoiceRow.corrects == number,
            InvoiceRow.kind == "credit_note",
            InvoiceRow.reason != "remainder",
        )
    ).all()
    lines: dict[tuple[Any, Any, str], tuple[Decimal, Decimal]] = {}
    taxes: dict[str, Decimal] = defaultdict(Decimal)
    for note_id, note_taxes in notes:
        note_lines = _lines(connection, note_id)
        if any((line.line_contract, line.line_period, line.line_charge) not in keys for line in note_lines):
            continue
        for line in note_lines:
            key = (line.line_contract, line.line_period, line.line_charge)
            amount, quantity = lines.get(key, (ZERO, ZERO))
            lines[key] = (amount + line.amount, quantity + line.quantity)
        for tax in taxes_from_row(note_taxes):
            taxes[tax.name] += tax.amount
    return lines, dict(taxes)


def _free_instant(connection: sa.Connection, customer_id: str, now: datetime) -> datetime:
    """`now`, or the first microsecond after it that no document of the customer is issued at
    (issue instants are unique per customer), and never a whole second: invoices are issued at
    their period's boundary, a whole second that may be still to come (a credit note issued at
    next month's first instant, before that invoice is drafted, would take its instant)."""
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
    while instant in taken or instant.microsecond == 0:
        instant += timedelta(microseconds=1)
    return instant
