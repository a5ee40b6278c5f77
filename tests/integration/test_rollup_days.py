"""The day tier of the usage rollups (`billing.store.rollup_days`): a segment read as whole UTC
days plus its edge quarter-hours equals the raw-event read and the core's definition, on SQLite
and PostgreSQL, whatever the zone of the segment's local midnights (+05:45, -03:30, +14:00...).

Events over four UTC days, stored in three batches (before the catalog builds the rollups from
the stored events, after it, and late events into days already rolled up); segments from a
local midnight to another in a zone drawn from several offsets, and arbitrary quarter-hour
windows, so most have partial days at both ends and some none at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent
from billing.core.metering import Meter, MetricState
from billing.store import metering_sql, rollup_days
from billing.store.catalog_versions import save_catalog
from billing.store.metering_sql import stored_states
from billing.store.rollup_states import segment_states
from tests.integration.test_metering_sql import CATALOG
from tests.integration.test_rollup_states import NUMBERS, USERS, _refuse_raw, _store

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 4
QUARTER = timedelta(minutes=15)
OFFSETS = [timedelta(minutes=m) for m in (0, 345, -210, 840, -720, 330, 45)]  # +05:45, -03:30, +14:00...
INSTANTS = st.one_of(
    st.integers(0, DAYS * 96).map(lambda q: DAY0 + q * QUARTER),  # bucket edges and midnights: ties
    st.integers(0, DAYS * 86400 - 1).map(lambda s: DAY0 + timedelta(seconds=s, microseconds=s % 7)),
)


@st.composite
def _event(draw: st.DrawFn, n: int) -> UsageEvent:
    kind = draw(st.sampled_from(["call", "store", "login", "seat", "pay"]))
    props: dict[str, object] = {"region": draw(st.sampled_from(["eu", "us"]))}
    if kind == "store":
        props = {"gb": draw(NUMBERS), "tier": draw(st.sampled_from([Decimal(2), "2"]))}
    elif kind == "login":
        props = {"user": draw(st.sampled_from(USERS[:-1]))}
    elif kind == "seat":
        props = {"n": draw(NUMBERS)}
    elif kind == "pay":
        props = {"amount": draw(NUMBERS), "live": draw(st.sampled_from([True, False]))}
    prefix = draw(st.sampled_from(["a", "B", "b", "Z"]))  # ties on `latest` break in byte order
    return UsageEvent(f"{prefix}{n}", f"c{draw(st.integers(0, 1))}", kind, draw(INSTANTS), props)


EVENTS = st.integers(1, 60).flatmap(lambda count: st.tuples(*(_event(n) for n in range(count))))
LOCAL_DAYS = st.tuples(st.sampled_from(OFFSETS), st.integers(-1, DAYS), st.integers(1, DAYS + 1)).map(
    lambda w: (DAY0 + w[1] * timedelta(days=1) - w[0], DAY0 + (w[1] + w[2]) * timedelta(days=1) - w[0])
)
QUARTERS = st.tuples(st.integers(-4, DAYS * 96), st.integers(1, DAYS * 96)).map(
    lambda w: (DAY0 + w[0] * QUARTER, DAY0 + (w[0] + w[1]) * QUARTER)
)
WINDOWS = st.lists(st.one_of(LOCAL_DAYS, QUARTERS), min_size=1, max_size=4)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS, cuts=st.tuples(st.integers(0, 60), st.integers(0, 60)), windows=WINDOWS)
def test_whole_days_and_edge_quarters_equal_raw_states_and_the_core(engine, wipe, events, cuts, windows):
    wipe()
    first, second = sorted(cuts)
    _store(engine, events[:first])
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", DAY0)  # builds both tiers from what is stored
    _store(engine, events[first:second])
    _store(engine, sorted(events[second:], key=lambda e: e.timestamp))  # late ones into old days too
    segments = [(c, s, e) for c in ("c0", "c1") for s, e in windows]
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "stored_states", _refuse_raw)
        from_rollups = segment_states(connection, CATALOG, segments)
    with engine.connect() as connection:
        raw = stored_states(connection, CATALOG, segments)
    for segment in segments:
        customer, start, end = segment
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        assert from_rollups[segment] == Meter(CATALOG.metrics).add(inside).states(), segment
        assert raw[segment] == from_rollups[segment], segment


def test_a_day_row_is_the_merge_of_its_buckets_and_a_month_reads_the_days(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", DAY0)
    late_evening = DAY0 + timedelta(hours=23, minutes=59)
    _store(
        engine,
        [
            UsageEvent("s1", "c0", "seat", DAY0 + timedelta(hours=1), {"n": Decimal(3)}),
            UsageEvent("s2", "c0", "seat", late_evening, {"n": Decimal(5)}),
            UsageEvent(
                "g1", "c0", "store", DAY0 + timedelta(hours=2), {"gb": Decimal("0.1"), "tier": Decimal(2)}
            ),
            UsageEvent("g2", "c0", "store", late_evening, {"gb": Decimal("0.2"), "tier": Decimal(2)}),
        ],
    )
    _store(engine, [UsageEvent("s0", "c0", "seat", DAY0, {"n": Decimal(1)})])  # late, into the same day
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT signature, events FROM usage_rollup_days")).all()
    assert sorted(events for _, events in rows) == [2, 2, 3]  # one row per metric and day
    month = ("c0", DAY0 - timedelta(hours=5, minutes=45), DAY0 + timedelta(days=30, hours=-5, minutes=-45))
    days = rollup_days.split(month[1], month[2])
    assert days is not None and (days.first_day, days.last_day) == (DAY0, DAY0 + timedelta(days=29))
    with engine.connect() as connection:
        states = segment_states(connection, CATALOG, [month])[month]
    assert states["seats"] == MetricState(3, Decimal(5), latest=(late_evening, "s2"))
    assert states["gb_max"] == MetricState(2, Decimal("0.2"))
    assert states["gb_sum"] == MetricState(2, Decimal("0.3"))


def test_split_leaves_segments_without_a_whole_utc_day_to_the_quarter_hours() -> None:
    assert rollup_days.split(DAY0 + QUARTER, DAY0 + timedelta(days=1, minutes=45)) is None
    assert rollup_days.split(DAY0, DAY0 + timedelta(hours=23)) is None
    whole = rollup_days.split(DAY0, DAY0 + timedelta(days=1))
    assert whole is not None and (whole.first_day, whole.last_day) == (DAY0, DAY0 + timedelta(days=1))
