"""The stored states a preview merges into, read from the usage rollups (`segment_states`), and
its lookup of stored distinct values there (`known_values`), equal the raw-event reads
(`stored_states`, `stored_values_among`) and the core's definition, on SQLite and PostgreSQL.

Arbitrary events across 15-minute buckets (exact ties on `latest`, 1 vs 1.0 vs "1", strings
longer than the 512 bytes PostgreSQL keeps by their hash, fields absent or JSON null, filters on
strings, numbers and booleans), windows on the grid and off it, and rollups left stale by events
stored behind the ORM's back: the answer is the same.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent, dumps
from billing.core.metering import Meter, MetricState
from billing.store import metering_sql, rollup_states, rollups
from billing.store.catalog_versions import save_catalog
from billing.store.database import lock_billing
from billing.store.metering_sql import stored_states, stored_values_among
from billing.store.metric_dialects import sqlite_instant
from billing.store.rollup_states import known_values, segment_states
from billing.store.usage_events import insert_events
from tests.integration.test_metering_sql import CATALOG

T0 = datetime(2026, 3, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
LONG = "é" * 300  # 600 bytes: kept as its SHA-256 on PostgreSQL
USERS = ["u1", "u2", Decimal(1), Decimal("1.0"), "1", LONG, LONG + "x", 'q "\\ \t', None]
NUMBERS = st.sampled_from(["0.1", "12.50", "-3", "1E+2", "7", "123456789012345678901.000000001"]).map(Decimal)
INSTANTS = st.one_of(
    st.integers(0, 24).map(lambda q: T0 + q * QUARTER),  # bucket edges: exact ties
    st.integers(0, 6 * 3600 - 1).map(lambda s: T0 + timedelta(seconds=s, microseconds=s % 7)),
)
USERS_METRIC = next(m for m in CATALOG.metrics if m.code == "users")


@st.composite
def _event(draw: st.DrawFn, n: int) -> UsageEvent:
    kind = draw(st.sampled_from(["call", "store", "login", "seat", "pay", "other"]))
    props: dict[str, object] = {}
    if kind == "call":
        props = {"region": draw(st.sampled_from(["eu", "us", "EU"]))}
    elif kind == "store":
        props = {"gb": draw(NUMBERS), "tier": draw(st.sampled_from([Decimal(2), Decimal("2.0"), "2"]))}
    elif kind == "login":
        props = {"user": draw(st.sampled_from(USERS))}
    elif kind == "seat":
        props = {"n": draw(st.one_of(NUMBERS, st.none()))}
    elif kind == "pay":
        props = {"amount": draw(NUMBERS), "live": draw(st.sampled_from([True, False, Decimal(1)]))}
    if kind != "call" and draw(st.integers(0, 4)) == 0:  # stored before a metric asked for the field
        props = {k: v for k, v in props.items() if k not in ("gb", "user", "n", "amount")}
    prefix = draw(st.sampled_from(["a", "B", "b", "é", "Z"]))  # ties on `latest` break in byte order
    return UsageEvent(f"{prefix}{n}", f"c{draw(st.integers(0, 1))}", kind, draw(INSTANTS), props)


EVENTS = st.integers(1, 50).flatmap(lambda count: st.tuples(*(_event(n) for n in range(count))))
WINDOWS = st.lists(
    st.tuples(st.integers(-2, 26), st.integers(1, 30)).map(
        lambda w: (T0 + w[0] * QUARTER, T0 + (w[0] + w[1]) * QUARTER)
    ),
    min_size=1,
    max_size=3,
)


def _store(engine, batch) -> None:
    """What ingest does around the insert: the lock, the greatest id, the rollups."""
    with engine.begin() as connection:
        lock_billing(connection)
        after_id = rollups.greatest_event_id(connection)
        insert_events(connection, list(batch), set(), T0)
        rollups.add_events_after(connection, after_id)


def _instant(connection, at: datetime) -> object:
    """An instant as the ORM stores it (fixed-width UTC text on SQLite)."""
    return sqlite_instant(at) if connection.dialect.name == "sqlite" else at


def _refuse_raw(*_args, **_kwargs):
    raise AssertionError("read raw events where the rollups apply")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=EVENTS, cut=st.integers(0, 50), windows=WINDOWS, asked=st.sets(st.sampled_from(USERS[:-1])))
def test_rollup_states_equal_raw_states_and_the_core(engine, wipe, events, cut, windows, asked):
    wipe()
    _store(engine, events[:cut])
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)  # builds the rollups of what is stored
    _store(engine, events[cut:])
    segments = [(c, s, e) for c in ("c0", "c1") for s, e in windows]
    values = {dumps(v) for v in asked}
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "stored_states", _refuse_raw)
        patch.setattr(metering_sql, "stored_values_among", _refuse_raw)
        from_rollups = segment_states(connection, CATALOG, segments)
        known = {s: known_values(connection, USERS_METRIC, s, values) for s in segments}
    # The raw reads count a JSON null as a distinct value and SQLite's cannot sum one (events
    # stored before a metric asked for the field): compared only without them.
    nulls = any(v is None for e in events for v in e.properties.values())
    with engine.connect() as connection:
        raw = {} if nulls else stored_states(connection, CATALOG, segments)
        raw_known = {s: stored_values_among(connection, USERS_METRIC, s, values) for s in segments}
    for segment in segments:
        customer, start, end = segment
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        assert from_rollups[segment] == Meter(CATALOG.metrics).add(inside).states(), segment
        assert nulls or raw[segment] == from_rollups[segment], segment
        held = {
            dumps(e.properties["user"])
            for e in inside
            if e.event_type == "login" and e.properties.get("user") is not None
        }
        assert known[segment] == raw_known[segment] == values & held, segment


def test_ties_on_latest_break_on_the_transaction_id_across_buckets(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    at = T0 + QUARTER  # a bucket edge: the first instant of the second bucket
    _store(
        engine,
        [
            UsageEvent("b-2", "c0", "seat", at, {"n": Decimal(2)}),
            UsageEvent("B-7", "c0", "seat", at, {"n": Decimal(7)}),  # uppercase sorts first
            UsageEvent("z-1", "c0", "seat", at - timedelta(microseconds=1), {"n": Decimal(1)}),  # bucket one
            UsageEvent("zz", "c0", "seat", at + timedelta(minutes=1), {"n": None}),  # no value
        ],
    )
    key = ("c0", T0, T0 + timedelta(hours=1))
    with engine.connect() as connection:
        seats = segment_states(connection, CATALOG, [key])[key]["seats"]
    assert seats == MetricState(4, Decimal(2), latest=(at, "b-2"))


def test_segments_off_the_grid_and_stale_rollups_read_raw_events(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    _store(engine, [UsageEvent("l1", "c0", "login", T0, {"user": "u1"})])
    with engine.begin() as connection:  # behind the ORM and the rollups: through_id falls behind
        connection.execute(
            sa.text(
                'INSERT INTO events (transaction_id, customer_id, event_type, "timestamp", properties, '
                "payload_hash, received_at, late, pending_adjustment) VALUES "
                "('l2', 'c0', 'login', :at, :props, 'x', :at, false, false)"
            ),
            {"at": _instant(connection, T0 + timedelta(minutes=1)), "props": '{"user":"u2"}'},
        )
    on, off = ("c0", T0, T0 + QUARTER), ("c0", T0, T0 + timedelta(minutes=7))
    asked = {dumps("u1"), dumps("u2"), dumps("u3")}
    with engine.connect() as connection:
        assert rollups.fresh_signatures(connection, CATALOG.metrics) == set()
        states = segment_states(connection, CATALOG, [on, off])
        found = known_values(connection, USERS_METRIC, on, asked)
    assert states[on]["users"] == states[off]["users"] == MetricState(2, distinct=2)
    assert found == {dumps("u1"), dumps("u2")}


def test_a_segment_off_the_grid_reads_raw_events_even_when_rollups_are_fresh(engine, monkeypatch):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    _store(engine, [UsageEvent("l1", "c0", "login", T0 + timedelta(minutes=3), {"user": "u1"})])
    off = ("c0", T0, T0 + timedelta(minutes=7))
    monkeypatch.setattr(rollup_states, "_rollup_states", _refuse_raw)
    with engine.connect() as connection:
        assert segment_states(connection, CATALOG, [off])[off]["users"] == MetricState(1, distinct=1)
