"""Billing corrections: what a backfill found billed wrong, pending until an invoice carries it.

A pending correction is an adjustment line waiting for the customer's next invoice
(`BillingState.corrections`); finalizing that invoice sets the rows' `invoice_id`, in the same
transaction. The finalized invoices a backfill re-rates are read here too: which invoice
closed which period, and the catalog version it was rated with.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from billing.core.line_keys import LineKey
from billing.core.rating import InvoiceLine
from billing.store.database import member_of, one_of
from billing.store.models import BillingCorrection, InvoiceRow
from billing.store.usage_events import FINALIZED_STATUSES, _batches

BACKFILL = "backfill"


@dataclass(frozen=True, slots=True)
class FinalizedInvoice:
    """What a backfill needs of a finalized invoice: which boundary issued it, rated how."""

    id: int
    number: str
    boundary: int
    catalog_version_id: int
    currency: str


def finalized_invoices(
    connection: sa.Connection, customer_ids: Iterable[str]
) -> dict[str, dict[int, FinalizedInvoice]]:
    """Each customer's finalized invoices by boundary."""
    ids = sorted(set(customer_ids))
    found: dict[str, dict[int, FinalizedInvoice]] = {cid: {} for cid in ids}
    for batch in _batches(ids):
        rows = connection.execute(
            sa.select(
                InvoiceRow.customer_id,
                InvoiceRow.id,
                InvoiceRow.number,
                InvoiceRow.boundary,
                InvoiceRow.catalog_version_id,
                InvoiceRow.currency,
            ).where(
                one_of(connection, InvoiceRow.customer_id, list(batch)),
                InvoiceRow.status.in_(FINALIZED_STATUSES),
                InvoiceRow.kind == "invoice",  # a credit note shares its invoice's boundary
            )
        )
        for customer, *fields in rows:
            invoice = FinalizedInvoice(*fields)
            found[customer][invoice.boundary] = invoice
    return found


@functools.cache
def _pending_query(dialect: str) -> sa.Select[Any]:
    c = BillingCorrection
    return (
        sa.select(
            c.customer_id,
            c.id,
            c.line_contract,
            c.line_period,
            c.line_charge,
            c.description,
            c.metric,
            c.quantity,
            c.amount,
            c.period_start,
            c.period_end,
        )
        .where(member_of(dialect, c.customer_id, "ids"), c.invoice_id.is_(None))
        .order_by(c.id)
    )


def pending_corrections(
    connection: sa.Connection, customer_ids: Iterable[str]
) -> dict[str, list[tuple[int, InvoiceLine]]]:
    """Each customer's corrections no invoice carries yet, oldest first, with their ids (a
    preview reads them on every request: the statement is built once per dialect)."""
    ids = sorted(set(customer_ids))
    pending: dict[str, list[tuple[int, InvoiceLine]]] = {cid: [] for cid in ids}
    for batch in _batches(ids):
        rows = connection.execute(_pending_query(connection.dialect.name), {"ids": list(batch)})
        for (
            customer,
            row_id,
            contract,
            period,
            charge,
            description,
            metric,
            quantity,
            amount,
            start,
            end,
        ) in rows:
            line = InvoiceLine(
                LineKey(contract, period, charge),
                "adjustment",
                description,
                metric,
                quantity,
                amount,
                start,
                end,
            )
            pending[customer].append((row_id, line))
    return pending


def add_corrections(
    connection: sa.Connection,
    customer_id: str,
    lines: Sequence[InvoiceLine],
    *,
    currency: str,
    corrects_invoice_id: int | None,
    catalog_version_id: int,
    now: datetime,
    reason: str = BACKFILL,
) -> None:
    """Store adjustment lines for the customer's next invoice to carry."""
    rows = [
        {
            "customer_id": customer_id,
            "line_contract": line.key.contract,
            "line_period": line.key.period,
            "line_charge": line.key.charge,
            "description": line.description,
            "metric": line.metric,
            "quantity": line.quantity,
            "amount": line.amount,
            "currency": currency,
            "period_start": line.start,
            "period_end": line.end,
            "reason": reason,
            "corrects_invoice_id": corrects_invoice_id,
            "catalog_version_id": catalog_version_id,
            "created_at": now,
        }
        for line in lines
    ]
    if rows:
        connection.execute(sa.insert(BillingCorrection), rows)


def mark_invoiced_many(connection: sa.Connection, carried: Sequence[tuple[str, int, int]]) -> None:
    """The corrections up to each max id are carried by that finalized invoice: (customer,
    invoice id, max id) each, one statement for them all."""
    if not carried:
        return
    table = cast(sa.Table, BillingCorrection.__table__)
    connection.execute(
        sa.update(table)
        .where(
            table.c.customer_id == sa.bindparam("b_customer"),
            table.c.invoice_id.is_(None),
            table.c.id <= sa.bindparam("b_max"),
        )
        .values(invoice_id=sa.bindparam("b_invoice")),
        [{"b_customer": c, "b_invoice": i, "b_max": m} for c, i, m in carried],
    )
