"""Watermarks of the spend and credit alerts: who needs evaluating again, and what they burned.

A customer's row says which events its spend was last evaluated on (every event with an id up
to `through_event_id`), in which period, and how many finalized invoices and credit notes it
had when its credits were. The daily scan reads only the events stored after its own mark
(`spend_scan_marks`), so finding the customers with usage since their last evaluation costs
what was stored since the last scan, not the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from billing.core.money import ZERO
from billing.store.database import dialect_insert, one_of
from billing.store.models import Event, InvoiceRow, SpendEvaluation, SpendScanMark
from billing.store.usage_events import FINALIZED_STATUSES, _batches

DAILY = "daily"


@dataclass(frozen=True, slots=True)
class Watermark:
    through_event_id: int = 0
    period_start: date | None = None
    finalized_documents: int = 0
    period_from: datetime | None = None
    period_until: datetime | None = None

    def same_period(self, as_of: datetime) -> bool:
        """`as_of` falls in the period last evaluated: no need to lay the schedule out again."""
        return (
            self.period_from is not None
            and self.period_until is not None
            and (self.period_from <= as_of < self.period_until)
        )


def customers_with_events_after(connection: sa.Connection, after_id: int) -> dict[str, int]:
    """Each customer with events stored after `after_id`, and its greatest such id."""
    rows = connection.execute(
        sa.select(Event.customer_id, sa.func.max(Event.id))
        .where(Event.id > after_id)
        .group_by(Event.customer_id)
    )
    return {customer: int(newest) for customer, newest in rows}


def watermarks(connection: sa.Connection, customer_ids: Iterable[str]) -> dict[str, Watermark]:
    found: dict[str, Watermark] = {}
    for batch in _batches(sorted(set(customer_ids))):
        rows = connection.execute(
            sa.select(
                SpendEvaluation.customer_id,
                SpendEvaluation.through_event_id,
                SpendEvaluation.period_start,
                SpendEvaluation.finalized_documents,
                SpendEvaluation.period_from,
                SpendEvaluation.period_until,
            ).where(one_of(connection, SpendEvaluation.customer_id, list(batch)))
        )
        for customer, through, period_start, documents, since, until in rows:
            found[customer] = Watermark(int(through), period_start, int(documents), since, until)
    return found


def record_spend(
    connection: sa.Connection,
    evaluated: Mapping[str, tuple[date, datetime, datetime] | None],
    through_event_id: int,
    now: datetime,
) -> None:
    """These customers' spend was evaluated on every event up to `through_event_id`, each in
    its period (first local day, UTC instants `[from, until)`; None: no period in progress)."""
    rows = [
        {
            "customer_id": customer,
            "through_event_id": through_event_id,
            "period_start": None if period is None else period[0],
            "period_from": None if period is None else period[1],
            "period_until": None if period is None else period[2],
            "finalized_documents": 0,
            "evaluated_at": now,
        }
        for customer, period in sorted(evaluated.items())
    ]
    if rows:
        insert = dialect_insert(connection, SpendEvaluation)
        columns = ("through_event_id", "period_start", "period_from", "period_until", "evaluated_at")
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["customer_id"], set_={c: insert.excluded[c] for c in columns}
            ),
            rows,
        )


def record_credits(connection: sa.Connection, documents: Mapping[str, int], now: datetime) -> None:
    """These customers' credits were evaluated when they had this many finalized documents."""
    rows = [
        {
            "customer_id": customer,
            "through_event_id": 0,
            "period_start": None,
            "finalized_documents": count,
            "evaluated_at": now,
        }
        for customer, count in sorted(documents.items())
    ]
    if rows:
        insert = dialect_insert(connection, SpendEvaluation)
        columns = ("finalized_documents", "evaluated_at")
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["customer_id"], set_={c: insert.excluded[c] for c in columns}
            ),
            rows,
        )


def credit_balances(
    connection: sa.Connection, customer_ids: Iterable[str]
) -> tuple[dict[str, dict[str, Decimal]], dict[str, int]]:
    """What the finalized invoices and credit notes of each customer burned of each grant (a
    credit note's credits are negative: given back), and how many such documents it has."""
    ids = sorted(set(customer_ids))
    used: dict[str, dict[str, Decimal]] = {customer: {} for customer in ids}
    counts = dict.fromkeys(ids, 0)
    for batch in _batches(ids):
        rows = connection.execute(
            sa.select(InvoiceRow.customer_id, InvoiceRow.credits).where(
                one_of(connection, InvoiceRow.customer_id, list(batch)),
                InvoiceRow.status.in_(FINALIZED_STATUSES),
            )
        )
        for customer, credits in rows:
            counts[customer] += 1
            burned = used[customer]
            for key, amount in credits:
                burned[key] = burned.get(key, ZERO) + Decimal(amount)
    return used, counts


def finalized_counts(connection: sa.Connection, customer_ids: Iterable[str]) -> dict[str, int]:
    """How many finalized invoices and credit notes each customer has (they are never deleted,
    so a larger count means a balance may have changed)."""
    ids = sorted(set(customer_ids))
    counts = dict.fromkeys(ids, 0)
    for batch in _batches(ids):
        rows = connection.execute(
            sa.select(InvoiceRow.customer_id, sa.func.count())
            .where(
                one_of(connection, InvoiceRow.customer_id, list(batch)),
                InvoiceRow.status.in_(FINALIZED_STATUSES),
            )
            .group_by(InvoiceRow.customer_id)
        )
        counts.update({customer: int(count) for customer, count in rows})
    return counts


@dataclass(frozen=True, slots=True)
class ScanMark:
    through_event_id: int = 0  # the previous scan read the events up to it
    catalog_version: str | None = None  # the content hash of the catalog it evaluated


def scan_mark(connection: sa.Connection) -> ScanMark:
    found = connection.execute(
        sa.select(SpendScanMark.through_event_id, SpendScanMark.catalog_version).where(
            SpendScanMark.name == DAILY
        )
    ).first()
    return ScanMark() if found is None else ScanMark(int(found[0]), found[1])


def set_scan_mark(
    connection: sa.Connection, through_event_id: int, now: datetime, catalog_version: str
) -> None:
    insert = dialect_insert(connection, SpendScanMark).values(
        name=DAILY, through_event_id=through_event_id, scanned_at=now, catalog_version=catalog_version
    )
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=["name"],
            set_={
                "through_event_id": insert.excluded.through_event_id,
                "scanned_at": now,
                "catalog_version": catalog_version,
            },
        )
    )


def unsettled(connection: sa.Connection, as_of: datetime) -> set[str]:
    """Customers whose last spend evaluation was not of the period in progress at `as_of` (it
    is over, not begun, or there was none): what a scan must look at again, usage or not."""
    e = SpendEvaluation
    rows = connection.execute(
        sa.select(e.customer_id).where(
            sa.or_(
                e.period_from.is_(None),
                e.period_until.is_(None),
                e.period_from > as_of,
                e.period_until <= as_of,
            )
        )
    )
    return set(rows.scalars())
