"""The day tier of the usage rollups is merged with each chunk's own events, not rebuilt from the
buckets (`billing.store.rollups`): every day row must still equal the core's definition over the
stored events of its UTC day, on SQLite and PostgreSQL, however the events came.

Events over four UTC days, with negative values, exact ties on `latest` broken in byte order,
fields absent or not numbers, arrive in chunks in any order (late ones into days already rolled
up, several chunks into one day), some before the catalog builds the rollups from what is
stored; later chunks re-send earlier events (duplicates) and other payloads under an earlier
transaction id (conflicts), which store nothing and so must add nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent
from billing.core.metering import Meter
from billing.store import rollups
from billing.store.catalog_versions import save_catalog
from billing.store.models import UsageRollupDay
from tests.integration.test_metering_sql import CATALOG
from tests.integration.test_rollup_days import DAY0, EVENTS
from tests.integration.test_rollup_states import _store

SIGNATURES = {rollups.signature_of(m): m for m in CATALOG.metrics}


def _day_rows(engine) -> dict[tuple[str, str, datetime], tuple[int, Decimal | None, object]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(UsageRollupDay.__table__)).all()
    return {
        (r.customer_id, r.signature, r.day.astimezone(UTC)): (
            r.events,
            None if r.value is None else Decimal(r.value),
            None if r.latest_at is None else (r.latest_at.astimezone(UTC), r.latest_id),
        )
        for r in rows
    }


def _expected(
    stored: list[UsageEvent],
) -> dict[tuple[str, str, datetime], tuple[int, Decimal | None, object]]:
    """The core's state of each metric over each customer's events of each UTC day."""
    days: dict[tuple[str, datetime], list[UsageEvent]] = defaultdict(list)
    for event in stored:
        at = event.timestamp.astimezone(UTC)
        days[(event.customer_id, at.replace(hour=0, minute=0, second=0, microsecond=0))].append(event)
    expected = {}
    for (customer, day), events in days.items():
        states = Meter(CATALOG.metrics).add(events).states()
        for signature, metric in SIGNATURES.items():
            state = states[metric.code]
            if state.events == 0:
                continue  # no row for a day the metric saw nothing of
            value = state.value if metric.aggregation in ("sum", "max", "latest") else None
            expected[(customer, signature, day)] = (state.events, value, state.latest)
    return expected


def _resent(event: UsageEvent, conflict: bool) -> UsageEvent:
    """The same event again, or (`conflict`) another payload under its transaction id."""
    if not conflict:
        return event
    return UsageEvent(
        event.transaction_id,
        event.customer_id,
        "pay",
        event.timestamp - timedelta(days=1),
        {"amount": Decimal(9)},
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=EVENTS,
    cuts=st.lists(st.integers(0, 60), min_size=3, max_size=3),
    built=st.integers(0, 3),
    resend=st.lists(st.tuples(st.integers(0, 59), st.booleans()), max_size=6),
    order=st.randoms(use_true_random=False),
)
def test_day_rows_merged_chunk_by_chunk_equal_the_core_per_utc_day(
    engine, wipe, events, cuts, built, resend, order
):
    wipe()
    bounds = [0, *sorted(cuts), len(events)]
    chunks = [list(events[a:b]) for a, b in pairwise(bounds)]
    stored: list[UsageEvent] = []
    for number, chunk in enumerate(chunks):
        if number == built:
            with engine.begin() as connection:
                save_catalog(connection, CATALOG, "test", DAY0)  # builds both tiers from what is stored
        if stored:  # earlier events again, as a re-ingest or a retry would send them
            chunk += [_resent(stored[i % len(stored)], conflict) for i, conflict in resend]
        order.shuffle(chunk)  # late events into days already rolled up
        _store(engine, chunk)
        seen = {e.transaction_id for e in stored}
        for event in chunk:
            if event.transaction_id not in seen:
                seen.add(event.transaction_id)
                stored.append(event)
    assert _day_rows(engine) == _expected(stored)


def test_two_chunks_into_one_day_merge_as_one(engine):
    """A day's row after a second chunk: counts and sums add (negative values too), the greatest
    value stays, and of two latest values at one instant the greater id in byte order wins
    ("a1" > "B2" there, not in a locale's order); a duplicate and a conflict add nothing."""
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", DAY0)
    noon = DAY0 + timedelta(hours=12)
    first = [
        UsageEvent("a1", "c0", "seat", noon, {"n": Decimal(4)}),
        UsageEvent(
            "g1", "c0", "store", DAY0 + timedelta(hours=1), {"gb": Decimal("7.5"), "tier": Decimal(2)}
        ),
        UsageEvent("p1", "c0", "pay", DAY0 + timedelta(hours=2), {"amount": Decimal("10.25"), "live": True}),
    ]
    second = [
        UsageEvent("B2", "c0", "seat", noon, {"n": Decimal(9)}),  # same instant, smaller id in byte order
        UsageEvent("g2", "c0", "store", DAY0 + timedelta(hours=23), {"gb": Decimal(-2), "tier": Decimal(2)}),
        UsageEvent("p2", "c0", "pay", DAY0 + timedelta(hours=3), {"amount": Decimal("-0.25"), "live": True}),
        first[2],  # a duplicate
        UsageEvent("g1", "c0", "store", noon, {"gb": Decimal(100), "tier": Decimal(2)}),  # a conflict
    ]
    _store(engine, first)
    _store(engine, second)
    stored = [*first, *second[:3]]
    rows = _day_rows(engine)
    assert rows == _expected(stored)
    codes = {metric.code: signature for signature, metric in SIGNATURES.items()}
    assert rows[("c0", codes["seats"], DAY0)] == (2, Decimal(4), (noon, "a1"))
    assert rows[("c0", codes["gb_max"], DAY0)][1] == Decimal("7.5")
    assert rows[("c0", codes["paid"], DAY0)][:2] == (2, Decimal("10.00"))
