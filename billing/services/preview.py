"""Cost previews: the invoice the current period will close with, before and after some events.

The same generator as invoice runs (`billing.core.invoicing.draft_invoice`) prices both sides, on
the same billed-so-far state and credits, so a preview of a period's events equals that
period's invoice line for line. Nothing is written. The stored usage is read from the usage
rollups (raw events where they do not apply); only the request's own events (at most a
thousand) are held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy.engine import Connection, Engine

from billing.core.admission import admit_event
from billing.core.catalog import Catalog
from billing.core.errors import InvalidUsage
from billing.core.events import EventRejected, UsageEvent, dumps, over_row_limit, oversized, parse_event
from billing.core.invoice_plan import InvoicePlan, draft_invoices, plan_through
from billing.core.invoicing import Invoice, UsageBySegment, draft_invoice, rating_fingerprint
from billing.core.line_hints import line_hints
from billing.core.line_keys import LineKey
from billing.core.metering import Meter, MetricState, metric_applies
from billing.core.money import ZERO
from billing.core.periods import Period, Schedule
from billing.core.pricing.base import TierHint
from billing.core.spend import project_usage
from billing.store import invoice_records
from billing.store.catalog_versions import StoredCatalog, active_catalog
from billing.store.rollup_states import known_values, segment_states
from billing.store.rollups import fresh_signatures
from billing.store.segment_queries import SegmentKey
from billing.store.statement_bounds import bounded_snapshot
from billing.store.usage_events import stored_hashes
from billing.views.preview_document import preview_document

Mode = Literal["merge", "replace"]
DEFAULT_STATEMENT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class EventProblem:
    index: int
    reason: str
    message: str


class PreviewRejected(InvalidUsage):
    def __init__(self, problems: list[EventProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"events[{p.index}]: {p.message}" for p in problems[:20]))


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """The request's events, and the ids the preview gave those sent without one: such an event
    is new by definition, never a duplicate of (or a conflict with) a stored event that happens
    to carry the same id."""

    events: list[UsageEvent]
    unnamed: frozenset[str]


def preview_events(catalog: Catalog, customer_id: str, raw: Sequence[Any], now: datetime) -> Hypothesis:
    """Hypothetical events: ids and timestamps may be left out (they default to now). Every
    event is checked as ingestion would check it; any problem refuses the whole preview."""
    events, problems = [], []
    given = (item.get("transaction_id") for item in raw if isinstance(item, dict))
    named = {name for name in given if isinstance(name, str)}
    unnamed: set[str] = set()
    for index, item in enumerate(raw):
        record = dict(item) if isinstance(item, dict) else item
        if isinstance(record, dict):
            if "transaction_id" not in record:
                record["transaction_id"] = _unnamed_id(index, named)
                unnamed.add(record["transaction_id"])
            record.setdefault("customer_id", customer_id)
            record.setdefault("timestamp", now.isoformat())
        checked = _checked_event(catalog, customer_id, record)
        if isinstance(checked, UsageEvent):
            events.append(checked)
        else:
            problems.append(EventProblem(index, *checked))
    if problems:
        raise PreviewRejected(problems)
    return Hypothesis(events, frozenset(unnamed))


def _unnamed_id(index: int, named: set[str]) -> str:
    """`preview-<index>`, unless the request names an event so (then with a suffix)."""
    candidate, suffix = f"preview-{index}", 0
    while candidate in named:
        suffix += 1
        candidate = f"preview-{index}-{suffix}"
    return candidate


def _checked_event(catalog: Catalog, customer_id: str, record: object) -> UsageEvent | tuple[str, str]:
    """The event as ingestion would admit it, or why it cannot be priced: (reason, message)."""
    try:
        size = oversized(dumps(record))
    except (ArithmeticError, TypeError, ValueError):
        size = None  # a number no row can hold: parse_event says so
    if size is not None:  # ingestion would hold it as unreadable: it would bill nothing
        return "unreadable_row", over_row_limit(size)
    try:
        event = parse_event(record)
        if event.customer_id != customer_id:
            return "malformed_field", f"customer_id {event.customer_id!r} is not {customer_id!r}"
        return admit_event(catalog, event)
    except EventRejected as rejection:
        return rejection.reason, rejection.detail
    except (ValueError, OverflowError) as error:  # defence in depth: never a 500 for an event
        return "malformed_field", f"cannot be read: {error}"


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


def _new_events(connection: Connection, hypothesis: Hypothesis, mode: Mode) -> list[UsageEvent]:
    """Leave out events counted already, as ingestion would: a transaction id repeated in the
    request, or (merging) stored, with the same payload. The same id with another payload is a
    conflict. Stored ids are looked up by key, never by loading the period; the ids the preview
    gave are not looked up."""
    added = hypothesis.events
    named = [e.transaction_id for e in added if e.transaction_id not in hypothesis.unnamed]
    stored = stored_hashes(connection, named)
    seen: dict[str, str] = {}
    new, problems = [], []
    for index, event in enumerate(added):
        digest = event.payload_hash
        known = stored.get(event.transaction_id)
        if known is not None and known != digest:
            problems.append(
                EventProblem(
                    index, "conflict", f"transaction_id {event.transaction_id!r} exists with another payload"
                )
            )
        elif seen.get(event.transaction_id, digest) != digest:
            problems.append(
                EventProblem(
                    index,
                    "conflict",
                    f"transaction_id {event.transaction_id!r} is repeated with another payload",
                )
            )
        elif event.transaction_id not in seen and (known is None or mode == "replace"):
            seen[event.transaction_id] = digest
            new.append(event)
    if problems:
        raise PreviewRejected(problems)
    return new


def _known_values(
    connection: Connection,
    catalog: Catalog,
    keys: Sequence[SegmentKey],
    added: Sequence[UsageEvent],
    fresh: set[str],
) -> dict[SegmentKey, dict[str, set[str]]]:
    """Per segment and `unique_count` metric, which distinct values of the added events the
    stored ones hold already (a lookup of just those values, in the rollups where they apply)."""
    found: dict[SegmentKey, dict[str, set[str]]] = {}
    for key in keys:
        _, start, end = key
        inside = [e for e in added if start <= e.timestamp < end]
        found[key] = {}
        for metric in catalog.metrics:
            if metric.aggregation != "unique_count" or metric.field is None:
                continue
            values = {
                dumps(e.properties[metric.field])
                for e in inside
                if metric_applies(metric, e.event_type, e.properties)
                and e.properties.get(metric.field) is not None
            }
            found[key][metric.code] = known_values(connection, metric, key, values, fresh)
    return found


@dataclass(frozen=True, slots=True)
class PreviewOutcome:
    """A preview's invoices and the usage behind them; `before` is the running invoice.

    `current` is the billed period in progress (None in a trial or before the first period:
    `shown` is then the period the invoices are about); `before_usage` and `after_usage` hold
    every metered segment's usage, the current period's included; `current_states` the stored
    usage of the current period's segments in mergeable form (what `before_usage` was metered
    from), for a caller that aggregates the period across its segments without reading it again."""

    customer_id: str
    mode: Mode
    schedule: Schedule
    shown: Period
    current: Period | None
    before: Invoice
    after: Invoice
    before_usage: UsageBySegment
    after_usage: UsageBySegment
    catalog_version: str
    current_states: Mapping[SegmentKey, Mapping[str, MetricState]]


def preview(
    engine: Engine,
    stored: StoredCatalog,
    customer_id: str,
    raw_events: Sequence[Any],
    mode: Mode,
    now: datetime,
    statement_seconds: float = DEFAULT_STATEMENT_SECONDS,
    connection: Connection | None = None,
) -> dict[str, Any]:
    """The preview document (SPEC §8); the database's work is bounded by `statement_seconds`
    (on the caller's `connection`, already bounded and in its snapshot, when it passes one)."""
    outcome = preview_outcome(
        engine, stored, customer_id, raw_events, mode, now, statement_seconds, connection
    )
    catalog, schedule, current = stored.catalog, outcome.schedule, outcome.current
    hints: dict[LineKey, TierHint] = {}
    projection = None
    if current is not None:
        hints = line_hints(schedule, current, outcome.after.lines)
        segments = schedule.segments(current)
        usage = {(s.start, s.end): outcome.after_usage.get((s.start, s.end), {}) for s in segments}
        projection = project_usage(catalog, segments, usage, now, schedule.tz)
    return preview_document(
        outcome.customer_id,
        outcome.mode,
        schedule.tz,
        outcome.shown,
        outcome.before,
        outcome.after,
        outcome.catalog_version,
        hints,
        projection,
    )


def preview_active(
    engine: Engine,
    customer_id: str,
    raw_events: Sequence[Any],
    mode: Mode,
    now: datetime,
    statement_seconds: float = DEFAULT_STATEMENT_SECONDS,
) -> dict[str, Any]:
    """`preview` with the catalog active in the preview's own snapshot: the version and the
    usage are read in one transaction on one connection (what the API answers)."""
    with engine.connect() as connection, bounded_snapshot(connection, statement_seconds):
        stored = active_catalog(connection)
        return preview(engine, stored, customer_id, raw_events, mode, now, statement_seconds, connection)


@contextmanager
def _snapshot(engine: Engine, seconds: float, given: Connection | None) -> Iterator[Connection]:
    if given is not None:
        yield given
        return
    with engine.connect() as connection, bounded_snapshot(connection, seconds):
        yield connection


def preview_outcome(
    engine: Engine,
    stored: StoredCatalog,
    customer_id: str,
    raw_events: Sequence[Any],
    mode: Mode,
    now: datetime,
    statement_seconds: float = DEFAULT_STATEMENT_SECONDS,
    connection: Connection | None = None,
) -> PreviewOutcome:
    """The preview's invoices; the database's work is bounded by `statement_seconds`.

    Stored usage is read from the usage rollups (`segment_states`: the 15-minute buckets of each
    segment, raw events only where rollups do not apply); only the added events are metered
    here and merged in (`Meter.resume`), so the work does not grow with the customer's stored
    usage. Every read is of one snapshot (`bounded_snapshot`), the caller's when it passes the
    `connection` (already bounded and in its snapshot)."""
    catalog = stored.catalog
    customer = catalog.customer(customer_id)
    schedule = Schedule(catalog, customer)
    hypothesis = preview_events(catalog, customer_id, raw_events, now)
    added = hypothesis.events
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
                    f"{shown.start.astimezone(customer.tz).isoformat()} .. "
                    f"{shown.end.astimezone(customer.tz).isoformat()} (the end excluded)",
                )
                for i in outside
            ]
        )
    with _snapshot(engine, statement_seconds, connection) as connection:
        state = invoice_records.billing_states(connection, [customer_id])[customer_id]
        # The invoices still open before this one come first, as the invoice run will issue them.
        plan = plan_through(schedule, state, boundary)
        segments = plan.segments(schedule)
        fresh = fresh_signatures(connection, catalog.metrics)
        states = segment_states(connection, catalog, [(customer_id, s.start, s.end) for s in segments], fresh)
        added = _new_events(connection, hypothesis, mode)
        current_keys = [
            (customer_id, s.start, s.end) for s in segments if closing and s.period.index == closing.index
        ]
        known = _known_values(connection, catalog, current_keys, added, fresh) if mode == "merge" else {}
    counted = catalog.event_counted_metrics
    before_usage = {
        (start, end): Meter.resume(catalog.metrics, metered, counted).usage()
        for (_, start, end), metered in states.items()
    }
    earlier = InvoicePlan(plan.boundaries[:-1], plan.late)
    for _ in draft_invoices(catalog, schedule, earlier, before_usage, state, final=lambda _draft: True):
        pass  # each open invoice before this one, folded into the state as if final
    late_here = plan.late_at(len(plan.boundaries) - 1)
    after_usage = dict(before_usage)
    for key in current_keys:
        _, start, end = key
        meter = Meter(catalog.metrics, counted)
        if mode == "merge":
            meter = Meter.resume(catalog.metrics, states[key], counted, known[key])
        after_usage[(start, end)] = meter.merge(
            Meter(catalog.metrics, counted).add(e for e in added if start <= e.timestamp < end)
        ).usage()
    before = draft_invoice(
        catalog,
        schedule,
        boundary,
        before_usage,
        state.billed,
        state.credits_used,
        late_here,
        corrections=state.corrections,  # a backfill's, still pending: the next invoice carries them
    )
    after = draft_invoice(
        catalog,
        schedule,
        boundary,
        after_usage,
        state.billed,
        state.credits_used,
        late_here,
        corrections=state.corrections,  # a backfill's, still pending: the next invoice carries them
    )
    before_view = before.as_invoice() if before else _empty(shown, customer_id, catalog)
    after_view = after.as_invoice() if after else _empty(shown, customer_id, catalog)
    return PreviewOutcome(
        customer_id,
        mode,
        schedule,
        shown,
        closing,
        before_view,
        after_view,
        before_usage,
        after_usage,
        stored.content_hash,
        {key: states[key] for key in current_keys},
    )
