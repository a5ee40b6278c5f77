"""Backfills: re-rate a chunk of customers' finalized periods and correct what was billed wrong.

For every customer of the chunk, each finalized period whose first local day lies in
`[start, end)` is re-rated with the usage stored today (all of the chunk's segments metered in
one query per catalog version) and compared line by line with what was billed for it
(`billing.core.backfill`). A real run then corrects each difference once, in the chunk's one
transaction, under the billing lock: an undercharge becomes a pending correction that the
customer's next invoice carries as an adjustment line; an overcharge becomes a credit note
referencing the invoice that billed it (`correct_overcharge`), its email queued with it. A dry
run computes the same and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from billing.core.backfill import (
    Action,
    BackfillLine,
    BackfillReport,
    PeriodComparison,
    closing_segments,
    compare_period,
    finalized_periods,
    period_days,
    should_bill,
)
from billing.core.catalog import Catalog
from billing.core.errors import BillingError
from billing.core.invoicing import UsageBySegment
from billing.core.line_keys import LineKey
from billing.core.money import ZERO, Currency
from billing.core.periods import Period, Schedule
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import InvoiceLine
from billing.core.taxes import compute_taxes
from billing.services.invoice_states import credit_note_issued
from billing.store import corrections as stored_corrections
from billing.store import credit_notes, send_ledger
from billing.store import invoice_records as records
from billing.store.catalog_versions import StoredCatalog, catalog_version
from billing.store.corrections import FinalizedInvoice
from billing.store.database import lock_billing
from billing.store.invoice_states import customer_contact
from billing.store.metering_sql import SegmentKey, stream_segment_usage


class CurrencyMismatch(BillingError):
    code = "currency_mismatch"


class NothingToCredit(BillingError):
    code = "nothing_to_credit"


@dataclass(frozen=True, slots=True)
class _PeriodRating:
    """A finalized period, the invoices that opened and closed it, and the catalogs each
    side is re-rated with."""

    period: Period
    days: str
    opening: StoredCatalog
    closing: StoredCatalog
    opened_by: FinalizedInvoice | None
    closed_by: FinalizedInvoice | None


def backfill_customers(
    engine: Engine,
    customer_ids: Sequence[str],
    start: date,
    end: date,
    *,
    catalog: StoredCatalog | None,
    now: datetime,
    dry_run: bool = True,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> BackfillReport:
    """Re-rate these customers' finalized periods starting in `[start, end)` with `catalog`
    (None: each invoice's own version) and, unless a dry run, correct every difference (a credit
    note's notification queued on `channels`)."""
    report = BackfillReport(dry_run, customers=len(customer_ids))
    with engine.begin() as connection:
        lock_billing(connection)  # no invoice run or ingest decides meanwhile
        records.ensure_no_invoice_missing(connection, customer_ids)  # what was billed must be whole
        states = records.billing_states(connection, customer_ids)
        invoices = stored_corrections.finalized_invoices(connection, customer_ids)
        versions = _Versions(connection)
        ratings = {
            cid: _ratings(cid, invoices[cid], states[cid].last_finalized, start, end, catalog, versions)
            for cid in customer_ids
        }
        usage = _metered(connection, ratings)
        for cid in customer_ids:
            state = states[cid]
            for rating in ratings[cid]:
                due = should_bill(
                    cid, rating.period.index, rating.closing.catalog, rating.opening.catalog, usage[cid]
                )
                comparison = compare_period(
                    cid, rating.period, rating.days, due, state.billed, state.corrections
                )
                report.periods += 1
                report.lines_checked += len(comparison.lines)
                issued = {} if dry_run else _correct(connection, comparison, rating, now, channels)
                report.lines += _found(comparison, rating, issued)
    return report


class _Versions:
    """Stored catalog versions by id, each read once per chunk."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self.loaded: dict[int, StoredCatalog] = {}

    def __call__(self, version_id: int) -> StoredCatalog:
        if version_id not in self.loaded:
            self.loaded[version_id] = catalog_version(self.connection, version_id)
        return self.loaded[version_id]


def _rated_with(invoices: dict[int, FinalizedInvoice], boundary: int) -> FinalizedInvoice:
    """The invoice at `boundary`, else the nearest after it, else the nearest before."""
    after = [b for b in invoices if b >= boundary]
    return invoices[min(after)] if after else invoices[max(invoices)]


def _ratings(
    customer_id: str,
    invoices: dict[int, FinalizedInvoice],
    last_finalized: int,
    start: date,
    end: date,
    named: StoredCatalog | None,
    versions: _Versions,
) -> list[_PeriodRating]:
    if not invoices:
        return []
    latest = named or versions(invoices[max(invoices)].catalog_version_id)
    schedule = Schedule.of(latest.catalog, customer_id)
    found = []
    for period in finalized_periods(schedule, last_finalized, start, end):
        sides = []
        for boundary in (period.index, period.index + 1):
            invoice = _rated_with(invoices, boundary)
            stored = named or versions(invoice.catalog_version_id)
            _same_currency(stored, invoice, customer_id)
            sides.append(stored)
        days = period_days(schedule, period)
        found.append(
            _PeriodRating(
                period, days, sides[0], sides[1], invoices.get(period.index), invoices.get(period.index + 1)
            )
        )
    return found


def _same_currency(stored: StoredCatalog, invoice: FinalizedInvoice, customer_id: str) -> None:
    if stored.catalog.currency.code != invoice.currency:
        raise CurrencyMismatch(
            f"catalog version {stored.content_hash[:12]} bills in {stored.catalog.currency.code}, "
            f"invoice {invoice.number} of {customer_id!r} in {invoice.currency}: a backfill never "
            "changes an invoice's currency"
        )


def _metered(connection: sa.Connection, ratings: dict[str, list[_PeriodRating]]) -> dict[str, UsageBySegment]:
    """The usage of every closing segment to re-rate, in one query per catalog version."""
    keys: dict[int, list[SegmentKey]] = defaultdict(list)
    catalogs: dict[int, Catalog] = {}
    for cid, periods in ratings.items():
        for rating in periods:
            catalogs[rating.closing.id] = rating.closing.catalog
            segments = closing_segments(rating.closing.catalog, cid, rating.period.index)
            keys[rating.closing.id] += [(cid, s.start, s.end) for s in segments]
    usage: dict[str, dict[tuple[datetime, datetime], dict[str, MeteredUsage]]] = defaultdict(dict)
    for version_id, segment_keys in keys.items():
        for index, metered in stream_segment_usage(connection, catalogs[version_id], segment_keys):
            cid, start, end = segment_keys[index]
            usage[cid][(start, end)] = metered
    return {cid: usage.get(cid, {}) for cid in ratings}


def _billed_by(rating: _PeriodRating, in_advance: bool) -> FinalizedInvoice | None:
    return rating.opened_by if in_advance else rating.closed_by


def _found(
    comparison: PeriodComparison, rating: _PeriodRating, issued: Mapping[LineKey, str]
) -> list[BackfillLine]:
    currency = rating.closing.catalog.currency.code
    found = []
    for line in comparison.differences:
        invoice = _credited(rating, line.timing == "in_advance") if line.action == "credit" else None
        invoice = invoice or _billed_by(rating, line.timing == "in_advance")
        found.append(
            BackfillLine(
                comparison.customer_id,
                comparison.days,
                line.description,
                currency,
                line.billed,
                line.should,
                line.action,
                invoice.number if invoice else None,
                issued.get(line.key),
            )
        )
    return found


def _credited(rating: _PeriodRating, in_advance: bool) -> FinalizedInvoice | None:
    """The invoice an overcharge's credit note references: the one that billed the line, else
    the other invoice of the period."""
    return _billed_by(rating, in_advance) or _billed_by(rating, not in_advance)


def _correct(
    connection: sa.Connection,
    comparison: PeriodComparison,
    rating: _PeriodRating,
    now: datetime,
    channels: Sequence[str],
) -> dict[LineKey, str]:
    """Correct each difference once, grouped by the invoice that billed the line; returns the
    number of the credit note that credits each overcharged line key."""
    groups: dict[tuple[Action, bool], list[InvoiceLine]] = defaultdict(list)
    for difference, line in comparison.corrections():
        groups[(difference.action, difference.timing == "in_advance")].append(line)
    issued: dict[LineKey, str] = {}
    for (action, in_advance), lines in groups.items():
        stored = rating.opening if in_advance else rating.closing
        if action == "credit":
            credited = _credited(rating, in_advance)
            if credited is None:
                raise NothingToCredit(
                    f"{comparison.customer_id!r}: no finalized invoice of {comparison.days} to credit"
                )
            number = correct_overcharge(connection, comparison.customer_id, credited, lines, now, channels)
            issued.update((line.key, number) for line in lines)
        else:
            invoice = _billed_by(rating, in_advance)
            stored_corrections.add_corrections(
                connection,
                comparison.customer_id,
                lines,
                currency=stored.catalog.currency.code,
                corrects_invoice_id=invoice.id if invoice else None,
                catalog_version_id=stored.id,
                now=now,
            )
    return issued


def correct_overcharge(
    connection: sa.Connection,
    customer_id: str,
    invoice: FinalizedInvoice,
    lines: Sequence[InvoiceLine],
    now: datetime,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> str:
    """The one place an overcharge is corrected: a credit note of `invoice`, issued now, with
    `lines` (negative, one per over-billed line key) and the taxes `invoice` was taxed with on
    their subtotal (each rounded once, half-up); prepaid credits untouched. Its
    `credit_note_issued` email is queued with it. Returns its number."""
    row = credit_notes.invoice_row(connection, invoice.id)
    subtotal = sum((line.amount for line in lines), ZERO)
    rates = [(tax.name, tax.rate) for tax in records.taxes_from_row(row.taxes)]
    taxes = compute_taxes(subtotal, rates, Currency.of(row.currency))
    rows = [records.line_row(n, line) for n, line in enumerate(lines)]
    note_id = credit_notes.issue_credit_note(connection, row, "backfill", rows, taxes, now)
    (note,) = records.load_invoices(Session(bind=connection), ids=[note_id])
    contact = customer_contact(connection, customer_id)
    if contact is not None:
        send_ledger.enqueue(connection, [credit_note_issued(note, *contact)], now, channels)
    assert note.number is not None
    return note.number
