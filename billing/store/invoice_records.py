"""Stored invoices: what was billed already, drafts, finalization with gap-free numbers."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing.core.errors import BillingError
from billing.core.invoice_plan import BillingState
from billing.core.invoicing import NOTHING_BILLED, Invoice, InvoiceDraft
from billing.core.line_keys import LineKey
from billing.core.money import ZERO, Currency, require_minor_units
from billing.core.pricing.base import TierAmount
from billing.core.rating import InvoiceLine
from billing.core.taxes import TaxLine
from billing.store.corrections import mark_invoiced_many, pending_corrections
from billing.store.database import dialect_insert, member_of, one_of
from billing.store.models import Counter, Event, InvoiceLineRow, InvoiceRow, Notification
from billing.store.usage_events import FINALIZED_STATUSES, _batches


class InvoiceChanged(BillingError):
    """Another run finalized the invoice this run was about to write."""

    code = "invoice_changed"


class InvoiceMissing(BillingError):
    """An invoice that was issued is no longer in the store: it is reported, never re-issued."""

    code = "invoice_missing"


@functools.cache
def _invoice_states_query(dialect: str) -> sa.Select[Any]:
    return sa.select(
        InvoiceRow.id, InvoiceRow.customer_id, InvoiceRow.status, InvoiceRow.boundary, InvoiceRow.credits
    ).where(member_of(dialect, InvoiceRow.customer_id, "ids"))


@functools.cache
def _billed_lines_query(dialect: str) -> sa.Select[Any]:
    return (
        sa.select(
            InvoiceRow.customer_id,
            InvoiceRow.kind,
            InvoiceRow.status,
            InvoiceLineRow.line_contract,
            InvoiceLineRow.line_period,
            InvoiceLineRow.line_charge,
            InvoiceLineRow.kind,
            InvoiceLineRow.description,
            InvoiceLineRow.metric,
            InvoiceLineRow.quantity,
            InvoiceLineRow.amount,
            InvoiceLineRow.period_start,
            InvoiceLineRow.period_end,
        )
        .join(InvoiceRow, InvoiceLineRow.invoice_id == InvoiceRow.id)
        .where(member_of(dialect, InvoiceRow.customer_id, "ids"), InvoiceRow.status.in_(FINALIZED_STATUSES))
        .order_by(InvoiceLineRow.id)
    )


@functools.cache
def _pending_late_query(dialect: str) -> sa.Select[Any]:
    return sa.select(Event.customer_id, Event.timestamp, Event.id).where(
        member_of(dialect, Event.customer_id, "ids"), Event.pending_adjustment.is_(True)
    )


def billing_states(connection: sa.Connection, customer_ids: Iterable[str]) -> dict[str, BillingState]:
    """What each customer was billed and credited so far, its open drafts, its usage waiting
    for an adjustment and its pending corrections. A preview makes these reads on every
    request: the statements are built once per dialect."""
    ids = sorted(set(customer_ids))
    states = {customer: BillingState() for customer in ids}
    dialect = connection.dialect.name
    for batch in _batches(ids):
        bound = {"ids": list(batch)}
        for invoice_id, customer, status, boundary, credits in connection.execute(
            _invoice_states_query(dialect), bound
        ):
            state = states[customer]
            if status in FINALIZED_STATUSES:
                state.last_finalized = max(state.last_finalized, boundary)
                # a credit note gives back what its invoice burned: its credits are negative
                for key, amount in credits:
                    state.credits_used[key] = state.credits_used.get(key, ZERO) + Decimal(amount)
            else:  # credit notes are finalized in the transaction that writes them
                state.drafts[boundary] = invoice_id
        for customer, document, status, contract, period, charge, *fields in connection.execute(
            _billed_lines_query(dialect), bound
        ):
            line = InvoiceLine(LineKey(contract, period, charge), *fields)
            billed = states[customer].billed
            # Every line counts, credit notes' negative: what a key is billed is the net.
            summed = billed.get(line.key, NOTHING_BILLED).plus(line)
            # A voided invoice's own lines are voided periods: runs and backfills leave their
            # keys alone. Decided by the voided invoice, not by its credit note's lines (which
            # leave out what a backfill had credited already); an adjustment it carried for an
            # earlier period is not that period's voiding: late usage there is still billed.
            if status == "void" and document == "invoice" and line.kind != "adjustment":
                summed = summed.voided()
            billed[line.key] = summed
        for customer, instant, event_id in connection.execute(_pending_late_query(dialect), bound):
            state = states[customer]
            state.late_first = instant if state.late_first is None else min(state.late_first, instant)
            state.late_last = instant if state.late_last is None else max(state.late_last, instant)
            state.late_max_id = max(state.late_max_id, event_id)
    for customer, pending in pending_corrections(connection, ids).items():
        state = states[customer]
        state.corrections = [line for _, line in pending]
        state.corrections_max_id = max((row_id for row_id, _ in pending), default=0)
    return states


def line_row(position: int, line: InvoiceLine) -> dict[str, Any]:
    return {
        "position": position,
        "line_contract": line.key.contract,
        "line_period": line.key.period,
        "line_charge": line.key.charge,
        "kind": line.kind,
        "description": line.description,
        "metric": line.metric,
        "quantity": line.quantity,
        "amount": line.amount,
        "period_start": line.start,
        "period_end": line.end,
        "tiers": [
            {
                "quantity": t.quantity,
                "unit_price": t.unit_price,
                "flat_fee": t.flat_fee,
                "amount": t.amount,
                "bounded": t.bounded,
            }
            for t in line.tiers
        ],
    }


def line_from_row(row: InvoiceLineRow) -> InvoiceLine:
    return InvoiceLine(
        key=LineKey(row.line_contract, row.line_period, row.line_charge),
        kind=row.kind,  # type: ignore[arg-type]
        description=row.description,
        metric=row.metric,
        quantity=row.quantity,
        amount=row.amount,
        start=row.period_start,
        end=row.period_end,
        tiers=tuple(TierAmount(**tier) for tier in row.tiers),
    )


def taxes_row(taxes: Iterable[TaxLine]) -> list[list[str]]:
    """Tax lines as stored: `[name, rate, amount]`, the numbers as exact decimal text."""
    return [[tax.name, f"{tax.rate:f}", f"{tax.amount:f}"] for tax in taxes]


def taxes_from_row(value: Any) -> tuple[TaxLine, ...]:
    return tuple(TaxLine(name, Decimal(rate), Decimal(amount)) for name, rate, amount in value or ())


def invoice_values(draft: InvoiceDraft, catalog_version_id: int, now: datetime) -> dict[str, Any]:
    """The columns of a draft invoice's row."""
    return {
        "customer_id": draft.customer_id,
        "status": "draft",
        "currency": draft.currency.code,
        "timezone": draft.timezone,
        "boundary": draft.boundary,
        "issued_at": draft.issued_at,
        "issued_on": draft.issued_on,
        "period_start": draft.period_start,
        "period_end": draft.period_end,
        "subtotal": draft.subtotal,
        "credits_applied": draft.credits_applied,
        "total": draft.total,
        "credits": [[key, amount] for key, amount in draft.credits],
        "taxes": taxes_row(draft.taxes),
        "fingerprint": draft.fingerprint,
        "catalog_version_id": catalog_version_id,
        "updated_at": now,
    }


def write_invoice(
    connection: sa.Connection,
    draft: InvoiceDraft,
    catalog_version_id: int,
    now: datetime,
    existing_id: int | None,
) -> int:
    """Create or rewrite a draft invoice and its lines; returns its id.

    Every amount must already be at the currency's minor units (`MoneyError` otherwise): the
    store keeps what is billed, it never rounds. The database checks the same (migration 0003)."""
    require_minor_units_of(draft)
    values = invoice_values(draft, catalog_version_id, now)
    if existing_id is None:
        invoice_id = connection.execute(
            sa.insert(InvoiceRow).values(**values).returning(InvoiceRow.id)
        ).scalar_one()
    else:
        invoice_id = existing_id
        rewritten = connection.execute(
            sa.update(InvoiceRow)
            .where(InvoiceRow.id == invoice_id, InvoiceRow.status == "draft")
            .values(**values)
        )
        if rewritten.rowcount != 1:  # finalized meanwhile: a final invoice never changes
            raise InvoiceChanged(f"invoice {invoice_id} of {draft.customer_id!r} is no longer a draft")
        connection.execute(sa.delete(InvoiceLineRow).where(InvoiceLineRow.invoice_id == invoice_id))
    rows = [{"invoice_id": invoice_id, **line_row(i, line)} for i, line in enumerate(draft.lines)]
    if rows:
        connection.execute(sa.insert(InvoiceLineRow), rows)
    return invoice_id


def require_minor_units_of(draft: InvoiceDraft) -> None:
    """`MoneyError` unless every amount of the draft is at its currency's minor units."""
    currency = draft.currency
    whose = f"invoice of {draft.customer_id!r} issued {draft.issued_at.isoformat()}:"
    for line in draft.lines:  # the parts first: the message names the one that is off
        for tier in line.tiers:
            require_minor_units(tier.amount, currency, f"{whose} a tier of line {line.key}")
        require_minor_units(line.amount, currency, f"{whose} line {line.key}")
    for grant, amount in draft.credits:
        require_minor_units(amount, currency, f"{whose} credit {grant}")
    for tax in draft.taxes:
        require_minor_units(tax.amount, currency, f"{whose} tax {tax.name}")
    require_minor_units(draft.subtotal, currency, f"{whose} subtotal")
    require_minor_units(draft.credits_applied, currency, f"{whose} credits applied")
    require_minor_units(draft.total, currency, f"{whose} total")


def delete_draft(connection: sa.Connection, invoice_id: int) -> None:
    connection.execute(sa.delete(InvoiceRow).where(InvoiceRow.id == invoice_id, InvoiceRow.status == "draft"))


def next_number(connection: sa.Connection, name: str = "invoice") -> int:
    """Advance a gap-free counter inside the caller's transaction."""
    return next_numbers(connection, 1, name)


def next_numbers(connection: sa.Connection, count: int, name: str = "invoice") -> int:
    """Advance a gap-free counter by `count` in one statement, inside the caller's transaction;
    returns the last number of the block (the block is `last - count + 1` to `last`).

    One advance per block, not per number: every update of the row leaves a version that the
    next update in the same transaction walks past, so a row updated once per invoice costs
    more with every invoice of the transaction."""
    statement = (
        dialect_insert(connection, Counter)
        .values(name=name, value=count)
        .on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + count})
        .returning(Counter.value)
    )
    return int(connection.execute(statement).scalar_one())


def finalize_invoice(
    connection: sa.Connection,
    invoice_id: int,
    customer_id: str,
    now: datetime,
    due_on: date,
    late_max_id: int,
    corrections_max_id: int = 0,
) -> str:
    """Number a draft and freeze it, in one statement; the late usage it adjusted is no longer
    pending, and the corrections it carried are marked as carried by it.

    The number is taken inside the caller's transaction, so if the draft is no longer there to
    freeze, the counter's step is undone with it: numbers stay gap-free. The database refuses
    a finalized invoice without its number (migration 0003), so status, number, finalized_at
    and due_on change together."""
    number = f"INV-{next_number(connection):06d}"
    frozen = connection.execute(
        sa.update(InvoiceRow)
        .where(InvoiceRow.id == invoice_id, InvoiceRow.status == "draft")
        .values(status="finalized", number=number, finalized_at=now, due_on=due_on, updated_at=now)
    )
    if frozen.rowcount != 1:
        raise InvoiceChanged(f"invoice {invoice_id} of {customer_id!r} is no longer a draft")
    if late_max_id:
        connection.execute(
            sa.update(Event)
            .where(
                Event.customer_id == customer_id,
                Event.pending_adjustment.is_(True),
                Event.id <= late_max_id,
            )
            .values(pending_adjustment=False)
        )
    if corrections_max_id:
        mark_invoiced_many(connection, [(customer_id, invoice_id, corrections_max_id)])
    return number


def missing_invoice_numbers(connection: sa.Connection, customer_ids: Iterable[str]) -> list[str]:
    """Invoice numbers that were issued but are no longer stored, lowest first.

    Issued means counted by the invoice counter, or emailed to one of these customers (the send
    ledger keeps every invoice email): a deletion with the triggers off, a truncated table or
    a partial restore leaves one of the two behind. Cheap when nothing is missing: one count
    against the counter, and an anti-join on the customers' invoice emails."""
    issued = connection.scalar(sa.select(Counter.value).where(Counter.name == "invoice")) or 0
    invoice_numbers = InvoiceRow.number.like("INV-%")
    stored = connection.scalar(sa.select(sa.func.count()).select_from(InvoiceRow).where(invoice_numbers))
    missing: set[str] = set()
    if stored != issued:
        present = set(connection.scalars(sa.select(InvoiceRow.number).where(invoice_numbers)))
        missing.update(n for n in (f"INV-{i:06d}" for i in range(1, issued + 1)) if n not in present)
    for batch in _batches(sorted(set(customer_ids))):
        emailed = sa.select(Notification.subject).where(
            Notification.kind == "invoice_issued",
            one_of(connection, Notification.customer_id, list(batch)),
            ~sa.exists().where(InvoiceRow.number == Notification.subject),
        )
        missing.update(connection.scalars(emailed))
    return sorted(missing, key=lambda number: (len(number), number))


def ensure_no_invoice_missing(connection: sa.Connection, customer_ids: Iterable[str]) -> None:
    """Refuse to invoice while an issued invoice is missing: re-drafting its period would issue
    it again under a new number and email the customer twice."""
    missing = missing_invoice_numbers(connection, customer_ids)
    if not missing:
        return
    shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
    verb = "is" if len(missing) == 1 else "are"
    noun = "invoice" if len(missing) == 1 else "invoices"
    raise InvoiceMissing(
        f"{noun} {shown} {verb} missing from the store: restore {'it' if len(missing) == 1 else 'them'}"
        " from a backup; nothing was invoiced"
    )


def _view(row: InvoiceRow) -> Invoice:
    return Invoice(
        customer_id=row.customer_id,
        status=row.status,
        currency=Currency.of(row.currency),
        timezone=row.timezone,
        period_start=row.period_start,
        period_end=row.period_end,
        lines=tuple(line_from_row(line) for line in row.lines),
        subtotal=row.subtotal,
        credits_applied=row.credits_applied,
        total=row.total,
        fingerprint=row.fingerprint,
        issued_at=row.issued_at,
        due_on=row.due_on,
        number=row.number,
        taxes=taxes_from_row(row.taxes),
        kind=row.kind,
        corrects=row.corrects,
        reason=row.reason,
        paid_at=row.paid_at,
        voided_at=row.voided_at,
    )


def load_invoices(
    session: Session,
    *,
    number: str | None = None,
    customer_id: str | None = None,
    ids: Iterable[int] | None = None,
    newest_first: bool = False,
    numbered: bool = False,
    limit: int | None = None,
) -> list[Invoice]:
    """Invoices and credit notes with their lines, oldest first, selected by number, customer or
    ids; the first `limit` of them only, if given (their lines in one more statement)."""
    query = sa.select(InvoiceRow).options(selectinload(InvoiceRow.lines))
    if number is not None:
        query = query.where(InvoiceRow.number == number)
    if customer_id is not None:
        query = query.where(InvoiceRow.customer_id == customer_id)
    if ids is not None:
        query = query.where(InvoiceRow.id.in_(list(ids)))
    if numbered:
        query = query.where(InvoiceRow.number.is_not(None))
    order = [InvoiceRow.issued_at, InvoiceRow.customer_id, InvoiceRow.id]
    query = query.order_by(*(o.desc() for o in order) if newest_first else order)
    rows = session.scalars(query if limit is None else query.limit(limit)).all()
    return [_view(row) for row in rows]
