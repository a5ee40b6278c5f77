"""Invoice runs: for a chunk of customers, rate what is due as of an instant and store it.

Every boundary up to `as_of` that no finalized invoice covers yet gets a draft; a draft whose
grace period has passed is finalized and numbered. A draft whose lines would total below zero
carries its lines of zero or more, and its finalization issues, in the same transaction, the
credit note carrying the rest (`billing.core.invoicing.cap_at_zero`). Usage for every segment of the chunk is
metered in one query. A dry run computes the same invoices and writes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from billing.core.catalog import Catalog, Customer
from billing.core.errors import BillingError, UnmeterableUsage
from billing.core.invoice_plan import BillingState, InvoicePlan, draft_invoices, plan_invoices
from billing.core.invoicing import Invoice, InvoiceDraft, UsageBySegment
from billing.core.lifecycle import Reminder
from billing.core.local_days import local_day
from billing.core.money import format_amount
from billing.core.periods import Schedule
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import PricedLines
from billing.services.collector import collector_paused
from billing.services.invoice_states import credit_note_issued
from billing.store import credit_notes, send_ledger
from billing.store import invoice_batches as batches
from billing.store import invoice_records as records
from billing.store.catalog_versions import StoredCatalog
from billing.store.database import lock_billing
from billing.store.metering_sql import SegmentKey, stream_segment_usage
from billing.views.documents import invoice_document


@dataclass(frozen=True, slots=True)
class InvoiceOutcome:
    customer_id: str
    issued_at: datetime
    issued_on: date  # in the customer's time zone
    status: str  # draft | finalized
    total: Decimal
    currency: str
    lines: int
    number: str | None = None
    invoice_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        from billing.core.money import Currency

        return {
            "customer_id": self.customer_id,
            "issued_at": self.issued_at.isoformat(),
            "issued_on": self.issued_on.isoformat(),
            "status": self.status,
            "number": self.number,
            "total": format_amount(self.total, Currency.of(self.currency)),
            "currency": self.currency,
            "lines": self.lines,
        }


@dataclass
class InvoiceRunReport:
    dry_run: bool
    customers: int = 0
    outcomes: list[InvoiceOutcome] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # customer -> why it was not invoiced

    def add(self, other: InvoiceRunReport) -> InvoiceRunReport:
        self.customers += other.customers
        self.outcomes.extend(other.outcomes)
        self.failures.update(other.failures)
        return self

    @property
    def finalized(self) -> list[InvoiceOutcome]:
        return [o for o in self.outcomes if o.status == "finalized"]

    @property
    def drafts(self) -> list[InvoiceOutcome]:
        return [o for o in self.outcomes if o.status == "draft"]

    def totals(self) -> dict[str, Decimal]:
        sums: dict[str, Decimal] = defaultdict(Decimal)
        for outcome in self.outcomes:
            sums[outcome.currency] += outcome.total
        return dict(sums)


@dataclass(frozen=True)
class _Run:
    """What every invoice of one run shares."""

    connection: Any
    catalog: Catalog
    version_id: int
    as_of: datetime
    grace: timedelta
    due_days: int
    now: datetime
    email_zero_invoices: bool = False
    channels: Sequence[str] = (send_ledger.EMAIL,)  # where each invoice's notification goes
    memo: PricedLines = field(default_factory=PricedLines)


def invoice_customers(
    engine: Engine,
    stored: StoredCatalog,
    customer_ids: Sequence[str],
    as_of: datetime,
    *,
    grace: timedelta,
    due_days: int,
    now: datetime,
    dry_run: bool = False,
    email_zero_invoices: bool = False,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> InvoiceRunReport:
    """Draft, and past the grace period finalize, every invoice due for these customers.

    A finalized invoice's email is queued with it, unless its subtotal is 0 and
    `email_zero_invoices` is false (one brought to 0 by credits is emailed: SPEC §8a).

    Refuses to write anything (`InvoiceMissing`) while an invoice issued earlier is missing.
    A customer whose stored usage a metric cannot aggregate (an event not written by ingest)
    is not invoiced, the event named, and the chunk is invoiced again without it."""
    refused: dict[str, str] = {}
    while True:
        chunk = [cid for cid in customer_ids if cid not in refused]
        try:
            report = _invoice_chunk(
                engine, stored, chunk, as_of, grace, due_days, now, dry_run, email_zero_invoices, channels
            )
        except UnmeterableUsage as error:
            found = {cid: why for cid, why in error.customers.items() if cid in chunk}
            if not found:
                raise
            refused.update(found)
            continue
        report.customers = len(customer_ids)
        report.failures.update(refused)
        return report


def _invoice_chunk(
    engine: Engine,
    stored: StoredCatalog,
    customer_ids: Sequence[str],
    as_of: datetime,
    grace: timedelta,
    due_days: int,
    now: datetime,
    dry_run: bool,
    email_zero_invoices: bool,
    channels: Sequence[str],
) -> InvoiceRunReport:
    catalog = stored.catalog
    schedules = {cid: Schedule.of(catalog, cid) for cid in customer_ids}
    report = InvoiceRunReport(dry_run, customers=len(customer_ids))
    with engine.begin() as connection:
        lock_billing(connection)  # no ingest may add usage or lateness while this decides
        records.ensure_no_invoice_missing(connection, customer_ids)  # never issued or emailed twice
        run = _Run(connection, catalog, stored.id, as_of, grace, due_days, now, email_zero_invoices, channels)
        states = records.billing_states(connection, customer_ids)
        plans = {cid: plan_invoices(schedules[cid], states[cid], as_of) for cid in customer_ids}
        drafted: dict[str, list[_Drafted]] = {}
        outcomes: dict[str, list[InvoiceOutcome]] = {}  # a dry run's, as each customer is drafted
        # Drafting is pure: each customer is drafted as soon as its usage is metered, while the
        # database still meters the next ones; what is drafted is written once metering is done.
        # A dry run writes nothing: each customer's outcomes are taken (and its drafts dropped)
        # as soon as it is drafted, while the database meters the next ones.
        with collector_paused():
            for cid, usage in _metered_customers(connection, catalog, schedules, plans):
                try:
                    drafts = _draft_one(run, schedules[cid], states[cid], plans[cid], usage)
                except BillingError as error:
                    report.failures[cid] = str(error)
                    continue
                if dry_run:
                    outcomes[cid] = [_outcome(d.draft, d.final) for d in drafts if d.draft is not None]
                else:
                    drafted[cid] = drafts
        if dry_run:
            report.outcomes += [o for cid in customer_ids for o in outcomes.get(cid, ())]
            connection.rollback()
        else:
            due = [(schedules[c].customer, states[c], drafted[c]) for c in customer_ids if c in drafted]
            report.outcomes += _write_chunk(run, due, report.failures)
    return report


def check_nothing_missing(engine: Engine, customer_ids: Sequence[str]) -> None:
    """`InvoiceMissing` when an invoice issued earlier is gone from the store. Every run checks
    this again under the billing lock before it writes; a flow checks it first as well, so that
    the operator reads it as one line before any work starts."""
    with engine.connect() as connection:
        records.ensure_no_invoice_missing(connection, customer_ids)


def _metered_customers(
    connection: Any,
    catalog: Catalog,
    schedules: Mapping[str, Schedule],
    plans: Mapping[str, InvoicePlan],
) -> Iterator[tuple[str, UsageBySegment]]:
    """Each customer with the usage of every segment its plan needs, as soon as the last of
    them is metered; all of them are metered in one query."""
    keys: list[SegmentKey] = []
    waiting: dict[str, int] = {}
    for cid, plan in plans.items():
        segments = plan.segments(schedules[cid])
        keys += [(cid, segment.start, segment.end) for segment in segments]
        waiting[cid] = len(segments)
    usage: dict[str, dict[tuple[datetime, datetime], dict[str, MeteredUsage]]] = defaultdict(dict)
    for cid, count in waiting.items():
        if count == 0:
            yield cid, {}
    for index, metered in stream_segment_usage(connection, catalog, keys):
        cid, start, end = keys[index]
        usage[cid][(start, end)] = metered
        waiting[cid] -= 1
        if waiting[cid] == 0:
            yield cid, usage.pop(cid)


@dataclass(frozen=True, slots=True)
class _Drafted:
    """One due boundary's draft (None: nothing to bill), and the stored draft it replaces."""

    boundary: int
    draft: InvoiceDraft | None
    existing: int | None
    final: bool


def _draft_one(
    run: _Run, schedule: Schedule, state: BillingState, plan: InvoicePlan, usage: UsageBySegment
) -> list[_Drafted]:
    def final(draft: InvoiceDraft) -> bool:
        return run.as_of >= draft.issued_at + run.grace

    return [
        _Drafted(boundary, draft, state.drafts.get(boundary), draft is not None and final(draft))
        for boundary, draft in draft_invoices(
            run.catalog, schedule, plan, usage, state, final=final, memo=run.memo
        )
    ]


def _write_chunk(
    run: _Run, due: list[tuple[Customer, BillingState, list[_Drafted]]], failures: dict[str, str]
) -> list[InvoiceOutcome]:
    """Store every customer's drafts, set-based (a statement per table for the whole chunk).

    A customer whose write fails is reported in `failures` and the others are stored: amounts
    are checked first, customer by customer; if the database still refuses the chunk's write
    (a concurrent run finalized a draft, a check of the database), it is undone and the chunk
    is written again customer by customer, each in its own savepoint."""
    ready = []
    for customer, state, drafted in due:
        try:
            for d in drafted:
                if d.draft is not None:
                    records.require_minor_units_of(d.draft)
        except BillingError as error:
            failures[customer.id] = str(error)
            continue
        ready.append((customer, state, drafted))
    try:
        with run.connection.begin_nested():
            return _write_set(run, ready)
    except (BillingError, *batches.REFUSED):
        pass
    outcomes = []
    for customer, state, drafted in ready:
        try:
            outcomes += _write_one(run, customer, state, drafted)
        except BillingError as error:
            failures[customer.id] = str(error)
        except batches.REFUSED as error:
            failures[customer.id] = batches.refusal(error)
    return outcomes


def _write_set(run: _Run, due: list[tuple[Customer, BillingState, list[_Drafted]]]) -> list[InvoiceOutcome]:
    """The chunk's drafts, finalizations, numbers and emails in a few statements; numbers in
    the order of the chunk's customers, then of issue, as `_write_one` customer by customer."""
    gone = [
        d.existing for _, _, drafted in due for d in drafted if d.draft is None and d.existing is not None
    ]
    batches.delete_drafts(run.connection, gone)
    stored = [
        (customer, state, d) for customer, state, drafted in due for d in drafted if d.draft is not None
    ]
    writes = [batches.DraftWrite(d.draft, d.existing) for _, _, d in stored if d.draft is not None]
    ids = batches.write_invoices(run.connection, writes, run.version_id, run.now)
    finals = [n for n, (_, _, d) in enumerate(stored) if d.final]
    due_on = {n: writes[n].draft.issued_on + timedelta(days=run.due_days) for n in finals}
    finalizations = [
        batches.Finalization(
            ids[n], stored[n][0].id, due_on[n], stored[n][1].late_max_id, stored[n][1].corrections_max_id
        )
        for n in finals
    ]
    numbers = dict(
        zip(finals, batches.finalize_invoices(run.connection, finalizations, run.now), strict=True)
    )
    issued = [
        invoice_issued(
            replace(writes[n].draft.as_invoice(), status="finalized", number=numbers[n], due_on=due_on[n]),
            stored[n][0],
        )
        for n in finals
        if writes[n].draft.subtotal != 0 or run.email_zero_invoices  # a zero invoice is kept, not emailed
    ]
    send_ledger.enqueue(run.connection, issued, run.now, run.channels)
    for n in finals:
        if writes[n].draft.remainder:
            _issue_remainder(run, ids[n], writes[n].draft, stored[n][0])
    return [_outcome(write.draft, n in numbers, numbers.get(n), ids[n]) for n, write in enumerate(writes)]


def _write_one(
    run: _Run, customer: Customer, state: BillingState, drafted: list[_Drafted]
) -> list[InvoiceOutcome]:
    """Store one customer's drafts; a failure undoes only this customer's writes."""
    writes = any(d.draft is not None or d.existing is not None for d in drafted)
    with run.connection.begin_nested() if writes else nullcontext():
        outcomes = []
        for d in drafted:
            if d.draft is None:
                if d.existing is not None:
                    records.delete_draft(run.connection, d.existing)
                continue
            outcomes.append(_store(run, customer, d.draft, d.existing, d.final, state))
        return outcomes


def _store(
    run: _Run,
    customer: Customer,
    draft: InvoiceDraft,
    existing: int | None,
    final: bool,
    state: BillingState,
) -> InvoiceOutcome:
    number = None
    invoice_id = records.write_invoice(run.connection, draft, run.version_id, run.now, existing)
    if final:
        due_on = draft.issued_on + timedelta(days=run.due_days)
        number = records.finalize_invoice(
            run.connection,
            invoice_id,
            draft.customer_id,
            run.now,
            due_on,
            state.late_max_id,
            state.corrections_max_id,
        )
        # queued with the invoice itself: a final invoice has its email, unless it bills nothing
        if draft.subtotal != 0 or run.email_zero_invoices:
            issued = replace(draft.as_invoice(), status="finalized", number=number, due_on=due_on)
            send_ledger.enqueue(run.connection, [invoice_issued(issued, customer)], run.now, run.channels)
        if draft.remainder:
            _issue_remainder(run, invoice_id, draft, customer)
    return _outcome(draft, final, number, invoice_id)


def _issue_remainder(run: _Run, invoice_id: int, draft: InvoiceDraft, customer: Customer) -> None:
    """The credit note of a just finalized invoice carrying the lines that would have taken
    its total below zero, taxed like it; its email queued with it."""
    rows = [records.line_row(n, line) for n, line in enumerate(draft.remainder)]
    row = credit_notes.invoice_row(run.connection, invoice_id)
    note_id = credit_notes.issue_credit_note(
        run.connection, row, "remainder", rows, draft.remainder_taxes, run.now
    )
    # read within the chunk's savepoint: the session joins it and never opens one of its own
    reader = Session(bind=run.connection, join_transaction_mode="rollback_only")
    (note,) = records.load_invoices(reader, ids=[note_id])
    email = credit_note_issued(note, customer.display_name, customer.email)
    send_ledger.enqueue(run.connection, [email], run.now, run.channels)


def _outcome(
    draft: InvoiceDraft, final: bool, number: str | None = None, invoice_id: int | None = None
) -> InvoiceOutcome:
    return InvoiceOutcome(
        customer_id=draft.customer_id,
        issued_at=draft.issued_at,
        issued_on=draft.issued_on,
        status="finalized" if final else "draft",
        total=draft.total,
        currency=draft.currency.code,
        lines=len(draft.lines),
        number=number,
        invoice_id=invoice_id,
    )


def invoice_issued(invoice: Invoice, customer: Customer) -> Reminder:
    """The email that carries a finalized invoice, once per invoice number."""
    assert invoice.number is not None and invoice.issued_at is not None
    return Reminder(
        customer_id=customer.id,
        kind="invoice_issued",
        subject=invoice.number,
        period=local_day(invoice.issued_at, ZoneInfo(invoice.timezone)).isoformat(),  # the local issue date
        recipient=customer.email,
        context={"invoice": invoice_document(invoice), "customer_name": customer.display_name},
    )
