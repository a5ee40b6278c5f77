"""Putting reminders into the send ledger: invoices issued and lifecycle notices due."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from billing.catalog import Catalog
from billing.documents import invoice_document
from billing.lifecycle import Reminder, due_reminders
from billing.store import send_ledger
from billing.store.invoice_records import load_invoices


def invoice_issued(engine: Engine, catalog: Catalog, invoice_ids: Iterable[int]) -> list[Reminder]:
    """One `invoice_issued` email per finalized invoice, carrying the invoice as rendered."""
    with Session(engine) as session:
        invoices = load_invoices(session, ids=list(invoice_ids))
    reminders = []
    for invoice in invoices:
        if invoice.number is None:
            continue
        customer = catalog.customers_by_id.get(invoice.customer_id)
        if customer is None:
            continue
        reminders.append(
            Reminder(
                customer_id=invoice.customer_id,
                kind="invoice_issued",
                subject=invoice.number,
                period=invoice.period_start.date().isoformat(),
                recipient=customer.email,
                context={"invoice": invoice_document(invoice), "customer_name": customer.display_name},
            )
        )
    return reminders


@dataclass
class ScanReport:
    on: date
    due: list[Reminder] = field(default_factory=list)
    new: int = 0  # reminders the ledger did not hold yet
    dry_run: bool = False


def scan_reminders(engine: Engine, catalog: Catalog, on: date, now: datetime, dry_run: bool) -> ScanReport:
    """Enqueue every reminder due on `on`; a dry run only tells which ones would be new."""
    due = due_reminders(catalog, on)
    report = ScanReport(on, due, dry_run=dry_run)
    with engine.begin() as connection:
        if dry_run:
            report.new = len(due) - len(send_ledger.already_recorded(connection, due))
        else:
            report.new = send_ledger.enqueue(connection, due, now)
    return report
