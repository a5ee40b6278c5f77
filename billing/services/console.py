"""What one customer's console shows (SPEC §8), gathered in one typed result.

The period so far comes from the usage service (`customer_usage_on`: the running invoice is the
preview's `before`, the same figures `GET /v1/customers/{id}/usage` answers); the newest
invoices from the invoice states, the upcoming dates from the lifecycle's own tracks (the days
its reminders are about), the recent notifications from the notification history: all read on
one connection in one read-only snapshot, under the request's statement bound. Documents under a console
token are the customer's own: another customer's number is `UnknownInvoice`, the answer a
number that does not exist gets.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Engine

from billing.core.console_data import ConsolePage, RecentNotification, UpcomingDate
from billing.core.errors import UnknownInvoice
from billing.core.lifecycle_dates import date_tracks
from billing.core.local_days import local_day
from billing.core.periods import Schedule
from billing.services import invoice_states
from billing.services.customer_usage import customer_usage_on
from billing.services.invoice_documents import document_html, document_pdf
from billing.services.notification_history import history_query
from billing.store.catalog_versions import StoredCatalog
from billing.store.notification_history import notification_history
from billing.store.statement_bounds import bounded_snapshot

RECENT_NOTIFICATIONS = 10
RECENT_INVOICES = 12


def console_page(
    engine: Engine, stored: StoredCatalog, customer_id: str, now: datetime, statement_seconds: float
) -> ConsolePage:
    catalog = stored.catalog
    customer = catalog.customer(customer_id)  # UnknownCustomer (404) before any database work
    schedule = Schedule(catalog, customer)
    today = local_day(now, schedule.tz)
    # one connection, one snapshot: the period so far, the invoices and notifications agree
    with engine.connect() as connection, bounded_snapshot(connection, statement_seconds):
        usage = customer_usage_on(connection, engine, stored, customer_id, now, statement_seconds)
        invoices = invoice_states.latest_invoices(connection, customer_id, RECENT_INVOICES)
        recent = notification_history(connection, history_query(customer_id, limit=RECENT_NOTIFICATIONS))
    return ConsolePage(
        customer_id,
        customer.display_name,
        catalog.currency.code,
        today,
        usage,
        tuple(invoices),
        upcoming_dates(stored, schedule, today),
        tuple(
            RecentNotification(n.kind, n.status, local_day(n.created_at, schedule.tz))
            for n in recent.notifications
        ),
    )


def upcoming_dates(stored: StoredCatalog, schedule: Schedule, today: date) -> tuple[UpcomingDate, ...]:
    """The next trial end, renewal and contract end after `today`, from the lifecycle's tracks."""
    found: set[UpcomingDate] = set()
    for track in date_tracks(stored.catalog, schedule):
        if track.kind == "trial_ended" and track.event_on is not None and track.event_on > today:
            found.add(UpcomingDate("trial_end", track.event_on - timedelta(days=1)))
        elif track.kind == "renewed":
            renewal = next((o.event_on for o in track.occurrences() if o.event_on > today), None)
            if renewal is not None:
                found.add(UpcomingDate("renewal", renewal))
        elif track.kind == "contract_ending" and track.event_on is not None and track.event_on > today:
            found.add(UpcomingDate("contract_end", track.event_on - timedelta(days=1)))
    return tuple(sorted(found, key=lambda d: (d.on, d.kind)))


def _owned(engine: Engine, customer_id: str, number: str) -> None:
    try:
        owner = invoice_states.invoice(engine, number).customer_id
    except UnknownInvoice:
        owner = None
    if owner != customer_id:
        raise UnknownInvoice.numbered(number)


def console_document_html(engine: Engine, customer_id: str, number: str) -> str:
    """The customer's invoice as HTML; another customer's is `UnknownInvoice`, as none is."""
    _owned(engine, customer_id, number)
    return document_html(engine, number)


def console_document_pdf(engine: Engine, customer_id: str, number: str, now: datetime) -> bytes:
    _owned(engine, customer_id, number)
    return document_pdf(engine, number, now)
