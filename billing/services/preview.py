"""Cost previews: the invoice the current period will close with, before and after some events.

The same generator as invoice runs (`billing.core.invoicing.draft_invoice`) prices both sides, on
the same billed-so-far state and credits, so a preview of a period's events equals that
period's invoice line for line. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.core.errors import InvalidUsage
from billing.core.events import EventRejected, UsageEvent, parse_event
from billing.core.invoice_plan import InvoicePlan, draft_invoices, plan_through
from billing.core.invoicing import Invoice, draft_invoice, rating_fingerprint
from billing.core.metering import Meter, event_property_problem
from billing.core.money import ZERO, format_amount
from billing.core.periods import Period, Schedule, Segment
from billing.store import invoice_records
from billing.store.catalog_versions import StoredCatalog
from billing.store.usage_events import fetch_events
from billing.views.documents import invoice_document, period_document

Mode = Literal["merge", "replace"]


@dataclass(frozen=True, slots=True)
class EventProblem:
    index: int
    reason: str
    message: str


class PreviewRejected(InvalidUsage):
    def __init__(self, problems: list[EventProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"events[{p.index}]: {p.message}" for p in problems[:20]))


def preview_events(catalog: Catalog, customer_id: str, raw: Sequence[Any], now: datetime) -> list[UsageEvent]:
    """Hypothetical events: ids and timestamps may be left out (they default to now)."""
    events, problems = [], []
    for index, item in enumerate(raw):
        record = dict(item) if isinstance(item, dict) else item
        if isinstance(record, dict):
            record.setdefault("transaction_id", f"preview-{index}")
            record.setdefault("customer_id", customer_id)
            record.setdefault("timestamp", now.isoformat())
        try:
            event = parse_event(record)
        except EventRejected as rejection:
            problems.append(EventProblem(index, rejection.reason, rejection.detail))
            continue
        if event.customer_id != customer_id:
            problems.append(
                EventProblem(
                    index, "malformed_field", f"customer_id {event.customer_id!r} is not {customer_id!r}"
                )
            )
            continue
        problem = event_property_problem(catalog.metrics_for_event_type(event.event_type), event)
        if problem:
            problems.append(EventProblem(index, "invalid_property", problem))
        else:
            events.append(event)
    if problems:
        raise PreviewRejected(problems)
    return events


def _empty(period: Period, customer_id: str, catalog: Catalog) -> Invoice:
    """Nothing to bill (a trial, a plan without fees or usage): an invoice of no lines."""
    fingerprint = rating_fingerprint(catalog.version, customer_id, period.start, "empty")
    return Invoice(
        customer_id,
        "draft",
        catalog.currency,
        catalog.customer(customer_id).timezone,
        period.start,
        period.end,
        (),
        ZERO,
        ZERO,
        ZERO,
        fingerprint,
        period.end,
    )


def _meter(catalog: Catalog, segments: Sequence[Segment], events: Sequence[UsageEvent]) -> dict[Any, Any]:
    usage = {}
    for segment in segments:
        inside = [e for e in events if segment.start <= e.timestamp < segment.end]
        usage[(segment.start, segment.end)] = (
            Meter(catalog.metrics, catalog.event_counted_metrics).add(inside).usage()
        )
    return usage


def _new_events(added: list[UsageEvent], stored: list[UsageEvent]) -> list[UsageEvent]:
    """Leave out events already counted (a transaction id stored, or repeated, with the same
    payload), as ingestion would; the same id with another payload is a conflict."""
    seen = {e.transaction_id: e.payload_hash for e in stored}
    new, problems = [], []
    for index, event in enumerate(added):
        known = seen.get(event.transaction_id)
        if known is None:
            seen[event.transaction_id] = event.payload_hash
            new.append(event)
        elif known != event.payload_hash:
            problems.append(
                EventProblem(
                    index, "conflict", f"transaction_id {event.transaction_id!r} exists with another payload"
                )
            )
    if problems:
        raise PreviewRejected(problems)
    return new


def preview(
    engine: Engine,
    stored: StoredCatalog,
    customer_id: str,
    raw_events: Sequence[Any],
    mode: Mode,
    now: datetime,
) -> dict[str, Any]:
    catalog = stored.catalog
    customer = catalog.customer(customer_id)
    schedule = Schedule(catalog, customer)
    added = preview_events(catalog, customer_id, raw_events, now)
    current = schedule.period_at(now)
    boundary = 0 if current is None else current.index + 1
    closing = schedule.period(boundary - 1) if boundary > 0 else None
    shown = closing or schedule.trial or schedule.period(0)
    if shown is None:
        raise InvalidUsage(f"customer {customer_id!r} has no contract to preview")
    outside = [i for i, e in enumerate(added) if not (shown.start <= e.timestamp < shown.end)]
    if outside:
        raise PreviewRejected(
            [
                EventProblem(
                    i,
                    "outside_period",
                    f"timestamp is outside the current period "
                    f"{shown.start.isoformat()} .. {shown.end.isoformat()}",
                )
                for i in outside
            ]
        )
    with engine.connect() as connection:
        state = invoice_records.billing_states(connection, [customer_id])[customer_id]
        # The invoices still open before this one come first, as the invoice run will issue them.
        plan = plan_through(schedule, state, boundary)
        segments = plan.segments(schedule)
        stored_events = [e for s in segments for e in fetch_events(connection, customer_id, s.start, s.end)]
    added = _new_events(added, stored_events)
    before_usage = _meter(catalog, segments, stored_events)
    earlier = InvoicePlan(plan.boundaries[:-1], plan.late)
    for _ in draft_invoices(catalog, schedule, earlier, before_usage, state, final=lambda _draft: True):
        pass  # each open invoice before this one, folded into the state as if final
    late_here = plan.late_at(len(plan.boundaries) - 1)
    after_usage = dict(before_usage)
    if closing is not None:
        current_segments = [s for s in segments if s.period.index == closing.index]
        after_events = added if mode == "replace" else [*stored_events, *added]
        after_usage.update(_meter(catalog, current_segments, after_events))
    before = draft_invoice(
        catalog, schedule, boundary, before_usage, state.billed, state.credits_used, late_here
    )
    after = draft_invoice(
        catalog, schedule, boundary, after_usage, state.billed, state.credits_used, late_here
    )
    before_view = before.as_invoice() if before else _empty(shown, customer_id, catalog)
    after_view = after.as_invoice() if after else _empty(shown, customer_id, catalog)
    cost = after_view.total - before_view.total
    return {
        "customer_id": customer_id,
        "mode": mode,
        "currency": catalog.currency.code,
        "period": period_document(shown.start, shown.end, schedule.tz),
        "before": invoice_document(before_view, with_number=False),
        "after": invoice_document(after_view, with_number=False),
        "cost": format_amount(cost, catalog.currency),
        "fingerprint": after_view.fingerprint,
        "catalog_version": stored.content_hash,
    }
