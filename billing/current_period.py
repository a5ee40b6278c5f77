"""The current period of many customers, rated at once: the running invoice before it closes.

The customers' segments are metered in SQL and each segment is priced with the same
`rate_segment` invoices use, as soon as the database hands over its row, so pricing overlaps
the query. On PostgreSQL the segments are split over a few connections that run at once: the
server meters on one core per connection while Python prices. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from billing.core.catalog import Catalog
from billing.core.periods import Period, Schedule, Segment
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import PeriodCharges, PricedLines, rate_segment
from billing.gc_pause import cyclic_gc_paused
from billing.store.metering_sql import stream_segment_usage

DEFAULT_CONNECTIONS = 2


@dataclass(frozen=True, slots=True)
class RatedPeriod:
    customer_id: str
    period: Period
    usage: tuple[dict[str, MeteredUsage], ...]  # per segment, in contract order
    charges: tuple[PeriodCharges, ...]  # per segment


MIN_CUSTOMERS_PER_CONNECTION = 500  # below this, another connection costs more than it saves


def _rate_chunk(
    engine: Engine, catalog: Catalog, customer_ids: Sequence[str], at: datetime, memo: PricedLines
) -> list[RatedPeriod]:
    periods: list[tuple[str, Period, int]] = []
    segments: list[Segment] = []
    for customer_id in customer_ids:
        schedule = Schedule.of(catalog, customer_id)
        period = schedule.period_at(at)
        if period is not None:
            parts = schedule.segments(period)
            periods.append((customer_id, period, len(parts)))
            segments.extend(parts)
    keys = [(s.customer_id, s.start, s.end) for s in segments]
    usage: list[dict[str, MeteredUsage]] = [{}] * len(segments)
    charges: list[PeriodCharges | None] = [None] * len(segments)
    with engine.connect() as connection:
        # Price each segment as soon as its row arrives: pricing overlaps the query.
        for index, metered in stream_segment_usage(connection, catalog, keys):
            usage[index] = metered
            charges[index] = rate_segment(segments[index], metered, catalog, memo)
    if None in charges:  # the stream yields every segment; anything else is a bug
        raise RuntimeError("metering returned nothing for some segments")
    rated, index = [], 0
    for customer_id, period, count in periods:
        end = index + count
        rated.append(
            RatedPeriod(customer_id, period, tuple(usage[index:end]), tuple(charges[index:end]))  # type: ignore[arg-type]
        )
        index = end
    return rated


def rate_current_periods(
    engine: Engine,
    catalog: Catalog,
    customer_ids: Sequence[str],
    at: datetime,
    connections: int = DEFAULT_CONNECTIONS,
) -> dict[str, RatedPeriod]:
    """Each customer's period holding `at`, metered and priced; customers outside one are left out.

    The customers are split evenly over up to `connections` workers; each meters its share in
    one query and prices the rows as they stream in, so the server meters on one core per
    connection while this process prices.
    """
    if engine.dialect.name != "postgresql":
        connections = 1  # SQLite aggregates in this process: more connections add nothing
    workers = max(1, min(connections, len(customer_ids) // MIN_CUSTOMERS_PER_CONNECTION))
    size = -(-len(customer_ids) // workers) or 1
    shares = [customer_ids[i : i + size] for i in range(0, len(customer_ids), size)]
    memo = PricedLines()
    with cyclic_gc_paused(), ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(lambda share: _rate_chunk(engine, catalog, share, at, memo), shares)
        return {rated.customer_id: rated for part in parts for rated in part}
