"""Paying and voiding invoices (SPEC §8a), and the credit note email a void queues.

Each action is one transaction. A void queues the `credit_note_issued` email in the send ledger
in the transaction that issues the credit note, so a credit note always has its email; sending
is the caller's choice (the command line sends at once, the API leaves it to the next run).
Repeating an action is harmless: the result says the invoice was in that state already.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from billing.core.errors import UnknownCustomer, UnknownInvoice
from billing.core.invoicing import Invoice
from billing.core.lifecycle import Reminder
from billing.core.local_days import local_day
from billing.store import invoice_states, send_ledger
from billing.store.invoice_records import load_invoices
from billing.views.documents import invoice_document


@dataclass(frozen=True, slots=True)
class StateOutcome:
    invoice: Invoice
    changed: bool  # False: it was paid (or void) already
    credit_note: Invoice | None = None
    unmailed: str | None = None  # why a new credit note's email could not be queued

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"invoice": invoice_document(self.invoice), "changed": self.changed}
        if self.invoice.status == "void":
            document["credit_note"] = None if self.credit_note is None else invoice_document(self.credit_note)
        if self.unmailed:
            document["warning"] = self.unmailed
        return document


def pay(engine: Engine, number: str, now: datetime) -> StateOutcome:
    with engine.begin() as connection:
        change = invoice_states.pay_invoice(connection, number, now)
        (invoice,) = load_invoices(Session(bind=connection), number=number)
    return StateOutcome(invoice, change.changed)


def void(
    engine: Engine, number: str, now: datetime, channels: Sequence[str] = (send_ledger.EMAIL,)
) -> StateOutcome:
    """Void a finalized invoice and issue its credit note, its notification queued with it on
    `channels`."""
    with engine.begin() as connection:
        change = invoice_states.void_invoice(connection, number, now)
        session = Session(bind=connection)
        (invoice,) = load_invoices(session, number=number)
        found = [] if change.credit_note_id is None else load_invoices(session, ids=[change.credit_note_id])
        credit_note = found[0] if found else None
        unmailed = None
        if change.changed and credit_note is not None:
            contact = invoice_states.customer_contact(connection, invoice.customer_id)
            if contact is None:
                unmailed = (
                    f"customer {invoice.customer_id!r} is no longer in the catalog: no address to email"
                )
            else:
                send_ledger.enqueue(connection, [credit_note_issued(credit_note, *contact)], now, channels)
    return StateOutcome(invoice, change.changed, credit_note, unmailed)


def credit_note_issued(credit_note: Invoice, customer_name: str, email: str) -> Reminder:
    """The email that carries a credit note, once per credit note number."""
    assert credit_note.number is not None and credit_note.issued_at is not None
    return Reminder(
        customer_id=credit_note.customer_id,
        kind="credit_note_issued",
        subject=credit_note.number,
        period=local_day(credit_note.issued_at, ZoneInfo(credit_note.timezone)).isoformat(),
        recipient=email,
        context={"credit_note": invoice_document(credit_note), "customer_name": customer_name},
    )


def invoice(engine: Engine, number: str) -> Invoice:
    with Session(engine) as session:
        found = load_invoices(session, number=number)
    if not found:
        raise UnknownInvoice.numbered(number)
    return found[0]


def customer_invoices(engine: Engine, customer_id: str, known: bool) -> list[Invoice]:
    """A customer's issued invoices and credit notes, newest first (drafts are not issued yet);
    `UnknownCustomer` when the customer is neither `known` nor has any."""
    with engine.connect() as connection:
        found = latest_invoices(connection, customer_id)
    if not found and not known:
        raise UnknownCustomer.named(customer_id)
    return found


def latest_invoices(connection: Connection, customer_id: str, limit: int | None = None) -> list[Invoice]:
    """The customer's newest `limit` issued invoices and credit notes (all without one), newest
    first, read on `connection` (in its transaction: the console's snapshot)."""
    with Session(bind=connection) as session:
        return load_invoices(session, customer_id=customer_id, newest_first=True, numbered=True, limit=limit)
