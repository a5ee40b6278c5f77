"""Spend and credit alerts into the send ledger: after every ingest, invoice run and daily scan.

`evaluate_spend` meters the current period of each customer with `spend_alerts` from the
stored usage, with the invoice run's metering (`meter_segments`: the usage rollups where they
are fresh), and queues what `billing.core.spend_alerts` finds due. `evaluate_credits` does the
same for prepaid grants running low, from what finalized invoices burned. Each records its
watermark (`store/spend_evaluations.py`), so the daily scan (`evaluate_spend_since_last`)
evaluates only customers with usage stored, invoices finalized, or a period begun since.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.engine import Connection, Engine

from billing.core.catalog import Catalog
from billing.core.errors import BillingError
from billing.core.lifecycle import Reminder
from billing.core.periods import Period, Schedule
from billing.core.spend_alerts import credits_low, current_period, spend_reminders
from billing.store import rollups, send_ledger, spend_evaluations
from billing.store.metering_sql import meter_segments

CUSTOMERS_PER_BATCH = 500


@dataclass
class SpendReport:
    evaluated: int = 0  # customers whose spend or credits were looked at
    due: list[Reminder] = field(default_factory=list)  # the new ones: not in the ledger before
    new: int = 0  # of those, the ones the ledger did not hold yet
    failures: dict[str, str] = field(default_factory=dict)  # customer -> why it was not evaluated

    def add(self, other: SpendReport) -> SpendReport:
        self.evaluated += other.evaluated
        self.due += other.due
        self.new += other.new
        self.failures.update(other.failures)
        return self


def _queue(
    connection: Connection,
    report: SpendReport,
    due: list[Reminder],
    now: datetime,
    dry_run: bool,
    channels: Sequence[str],
) -> None:
    """Queue what is due; the report lists only what the ledger did not hold yet (an alert
    crossed and told earlier this period is found again by every evaluation after it)."""
    if dry_run:
        recorded = send_ledger.already_recorded(connection, due)
        new = [r for r in due if r.key not in recorded]
    else:
        keys = send_ledger.enqueue_new(connection, due, now, channels)
        new = [r for r in due if r.key in keys]
    report.due += new
    report.new += len(new)


def evaluate_spend(
    engine: Engine,
    catalog: Catalog,
    customer_ids: Iterable[str],
    as_of: datetime,
    now: datetime,
    dry_run: bool = False,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> SpendReport:
    """Queue the spend alerts and forecasts due at `as_of` for these customers (those without
    alerts, or unknown to this catalog, are left out) on `channels`."""
    wanted = [
        cid
        for cid in dict.fromkeys(customer_ids)
        if cid in catalog.customers_by_id and catalog.customer(cid).spend_alerts
    ]
    report = SpendReport()
    for start in range(0, len(wanted), CUSTOMERS_PER_BATCH):
        report.add(
            _evaluate_batch(
                engine, catalog, wanted[start : start + CUSTOMERS_PER_BATCH], as_of, now, dry_run, channels
            )
        )
    return report


def _evaluate_batch(
    engine: Engine,
    catalog: Catalog,
    ids: list[str],
    as_of: datetime,
    now: datetime,
    dry_run: bool,
    channels: Sequence[str],
) -> SpendReport:
    report = SpendReport(evaluated=len(ids))
    with engine.begin() as connection:
        through = rollups.greatest_event_id(connection)  # read first: metering sees at least these
        periods: dict[str, Period | None] = {
            cid: current_period(Schedule.of(catalog, cid), as_of) for cid in ids
        }
        keys = [
            (cid, s.start, s.end)
            for cid, period in periods.items()
            if period is not None
            for s in Schedule.of(catalog, cid).segments(period)
        ]
        metered = meter_segments(connection, catalog, keys)
        due: list[Reminder] = []
        for cid, period in periods.items():
            if period is None:
                continue
            schedule = Schedule.of(catalog, cid)
            usage = {(s.start, s.end): metered[(cid, s.start, s.end)] for s in schedule.segments(period)}
            try:
                due += spend_reminders(catalog, schedule, period, usage, as_of)
            except BillingError as error:  # e.g. a line beyond what an invoice can bill
                report.failures[cid] = str(error)
        _queue(connection, report, due, now, dry_run, channels)
        if not dry_run:
            marks: dict[str, tuple[date, datetime, datetime] | None] = {
                cid: None if p is None else (p.start_date, p.start, p.end)
                for cid, p in periods.items()
                if cid not in report.failures
            }
            spend_evaluations.record_spend(connection, marks, through, now)
    return report


def customers_with_credits(catalog: Catalog) -> list[str]:
    return [c.id for c in catalog.customers if any(contract.credits for contract in c.contracts)]


def evaluate_credits(
    engine: Engine,
    catalog: Catalog,
    customer_ids: Iterable[str],
    as_of: datetime,
    now: datetime,
    dry_run: bool = False,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> SpendReport:
    """Queue a `credits_low` for each grant of these customers whose balance is under 20 %."""
    holders = set(customers_with_credits(catalog))
    wanted = [cid for cid in dict.fromkeys(customer_ids) if cid in holders]
    report = SpendReport(evaluated=len(wanted))
    if not wanted:
        return report
    with engine.begin() as connection:
        used, documents = spend_evaluations.credit_balances(connection, wanted)
        due: list[Reminder] = []
        for cid in wanted:
            due += credits_low(catalog, Schedule.of(catalog, cid), used[cid], as_of)
        _queue(connection, report, due, now, dry_run, channels)
        if not dry_run:
            spend_evaluations.record_credits(connection, documents, now)
    return report


def evaluate_spend_since_last(
    engine: Engine,
    catalog: Catalog,
    as_of: datetime,
    now: datetime,
    dry_run: bool = False,
    channels: Sequence[str] = (send_ledger.EMAIL,),
) -> SpendReport:
    """The daily scan's part: spend for the customers with alerts and usage stored since their
    last evaluation (or whose period changed since: a new period's flat fees alone may cross
    an alert), credits for those with invoices finalized since. Reads only the events stored
    since the previous scan."""
    alerting = [c.id for c in catalog.customers if c.spend_alerts]
    holders = customers_with_credits(catalog)
    with engine.connect() as connection:
        mark = spend_evaluations.scan_mark(connection)
        newest = rollups.greatest_event_id(connection)
        touched = spend_evaluations.customers_with_events_after(connection, mark.through_event_id)
        if mark.catalog_version != catalog.version:  # a new catalog: every customer with an alert
            candidates = alerting
        else:  # the same catalog: those with new usage or whose evaluated period is over
            looked_at = set(touched) | spend_evaluations.unsettled(connection, as_of)
            candidates = [cid for cid in alerting if cid in looked_at]
        known = spend_evaluations.watermarks(connection, [*candidates, *holders])
        documents = spend_evaluations.finalized_counts(connection, holders)
    blank = spend_evaluations.Watermark()
    spend_due = []
    for cid in candidates:
        last = known.get(cid, blank)
        if cid in known and touched.get(cid, 0) <= last.through_event_id and last.same_period(as_of):
            continue  # nothing new, same period: no schedule to lay out
        period = current_period(Schedule.of(catalog, cid), as_of)
        started = None if period is None else period.start_date
        if touched.get(cid, 0) > last.through_event_id or (cid not in known or started != last.period_start):
            spend_due.append(cid)
    credit_due = [
        cid for cid in holders if cid not in known or documents[cid] > known[cid].finalized_documents
    ]
    report = evaluate_spend(engine, catalog, spend_due, as_of, now, dry_run, channels)
    report.add(evaluate_credits(engine, catalog, credit_due, as_of, now, dry_run, channels))
    if not dry_run:
        with engine.begin() as connection:
            spend_evaluations.set_scan_mark(connection, newest, now, catalog.version)
    return report
