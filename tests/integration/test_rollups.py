"""Usage rollups equal the core's one definition over the raw events, on SQLite and PostgreSQL.

Arbitrary events of every aggregation (filters on strings, numbers and booleans, ties on
`latest`, values with more digits than a float holds, fields missing), stored across several
ingests in any time order (late events), batches stored again (re-ingest: nothing is added
twice), a catalog saved after some events are stored (its rollups built from them): for any
window on the 15-minute grid, metering from the rollups equals `billing.core.metering.measure`
over the window's events, and equals metering the raw events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.events import UsageEvent
from billing.core.metering import measure
from billing.services.ingest import ingest_records
from billing.sources.usage_files import record_of_line
from billing.store import metering_sql, rollups
from billing.store.catalog_versions import save_catalog
from billing.store.database import lock_billing
from billing.store.metering_sql import meter_segments
from billing.store.models import RollupSignature, UsageRollup
from billing.store.usage_events import insert_events
from tests.integration.test_metering_sql import CATALOG

T0 = datetime(2026, 3, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)

NUMBERS = st.sampled_from(
    ["0.1", "12.50", "-3", "1E+2", "7", "123456789012345678901.000000001", "0.000000000000000000001"]
).map(Decimal)
INSTANTS = st.one_of(
    st.integers(0, 24).map(lambda q: T0 + q * QUARTER),  # on bucket edges: many exact ties
    st.integers(0, 8 * 3600 - 1).map(lambda s: T0 + timedelta(seconds=s)),
)


@st.composite
def _event(draw: st.DrawFn, n: int) -> UsageEvent:
    kind = draw(st.sampled_from(["call", "store", "login", "seat", "pay", "other"]))
    props: dict[str, object] = {}
    if kind == "call":
        props = {"region": draw(st.sampled_from(["eu", "us", "EU"]))}
    elif kind == "store":
        props = {
            "gb": draw(NUMBERS),
            "tier": draw(st.sampled_from([Decimal(2), Decimal("2.0"), Decimal(3), "2"])),
        }
    elif kind == "login":
        props = {"user": draw(st.sampled_from(["u1", "u2", "u3", Decimal(1), Decimal("1.0"), "1"]))}
    elif kind == "seat":
        props = {"n": draw(NUMBERS)}
    elif kind == "pay":
        props = {"amount": draw(NUMBERS), "live": draw(st.sampled_from([True, False, Decimal(1)]))}
    if kind != "call" and draw(st.booleans()) and draw(st.booleans()):  # stored before a metric needed it
        props = {k: v for k, v in props.items() if k not in ("gb", "user", "n", "amount")}
    prefix = draw(st.sampled_from(["a", "B", "b", "é", "Z"]))  # ties on `latest` break in byte order
    return UsageEvent(f"{prefix}{n}", f"c{draw(st.integers(0, 1))}", kind, draw(INSTANTS), props)


@st.composite
def _batches(draw: st.DrawFn) -> list[list[UsageEvent]]:
    count = draw(st.integers(1, 60))
    events = [draw(_event(n)) for n in range(count)]
    cuts = sorted(draw(st.lists(st.integers(0, count), max_size=3)))
    batches = [events[a:b] for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    again = draw(st.lists(st.integers(0, len(batches) - 1), max_size=2))  # re-ingested as they were
    return batches + [batches[i] for i in again]


WINDOWS = st.lists(
    st.tuples(st.integers(-2, 32), st.integers(1, 40)).map(
        lambda w: (T0 + w[0] * QUARTER, T0 + (w[0] + w[1]) * QUARTER)
    ),
    min_size=1,
    max_size=4,
)


def _store(engine, batch: list[UsageEvent]) -> None:
    """What ingest does around the insert: the lock, the greatest id, the rollups."""
    with engine.begin() as connection:
        lock_billing(connection)
        after_id = rollups.greatest_event_id(connection)
        insert_events(connection, batch, set(), T0)
        rollups.add_events_after(connection, after_id)


def store_around_catalog(engine, batches: list[list[UsageEvent]], saved_after: int) -> None:
    """The first `saved_after` batches stored, then the catalog saved (it builds the rollups of
    what is stored), then the rest stored (ingest keeps the rollups)."""
    saved_after = min(saved_after, len(batches))
    for batch in batches[:saved_after]:
        _store(engine, batch)
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    for batch in batches[saved_after:]:
        _store(engine, batch)


def _raw_rows_refused(*_args, **_kwargs):
    raise AssertionError("metered from raw events where the rollups apply")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches(), saved_after=st.integers(0, 3), windows=WINDOWS)
def test_rollups_over_grid_windows_equal_the_core_definition(engine, wipe, batches, saved_after, windows):
    wipe()
    store_around_catalog(engine, batches, saved_after)
    events = list({e.transaction_id: e for batch in batches for e in batch}.values())
    segments = [(c, s, e) for c in ("c0", "c1") for s, e in windows]
    with engine.connect() as connection:
        assert rollups.fresh_signatures(connection, CATALOG.metrics) == {
            rollups.signature_of(m) for m in CATALOG.metrics
        }
        raw = meter_segments(connection, CATALOG, segments)  # raw for any window off the grid: none here
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "_postgres_rows", _raw_rows_refused)
        patch.setattr(metering_sql, "_sqlite_rows", _raw_rows_refused)
        from_rollups = meter_segments(connection, CATALOG, segments)
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "USE_ROLLUPS", False)
        from_events = meter_segments(connection, CATALOG, segments)
    for customer, start, end in segments:
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        expected = measure(CATALOG.metrics, inside, CATALOG.event_counted_metrics)
        key = (customer, start, end)
        assert from_rollups[key] == expected, key
        assert raw[key] == from_events[key] == expected, key


def test_segments_off_the_grid_read_raw_events_and_both_kinds_mix(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    at = T0 + timedelta(minutes=7)
    events = [
        UsageEvent("t1", "c0", "store", at, {"gb": Decimal("1.5"), "tier": Decimal(2)}),
        UsageEvent("t2", "c0", "store", at + timedelta(minutes=10), {"gb": Decimal(4), "tier": Decimal(2)}),
    ]
    _store(engine, events)
    on, off = (("c0", T0, T0 + QUARTER), ("c0", T0, at + timedelta(minutes=5)))
    with engine.connect() as connection:
        usage = meter_segments(connection, CATALOG, [on, off])
    assert usage[on]["gb_sum"].quantity == Decimal("1.5")  # t2 falls in the next bucket
    assert usage[off]["gb_sum"].quantity == Decimal("1.5")
    assert usage[on]["gb_max"].quantity == Decimal("1.5")


def test_events_stored_without_maintenance_make_reads_use_raw_events_until_caught_up(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
        insert_events(connection, [UsageEvent("t1", "c0", "call", T0, {"region": "eu"})], set(), T0)
    key = ("c0", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        assert rollups.fresh_signatures(connection, CATALOG.metrics) == set()
        assert meter_segments(connection, CATALOG, [key])[key]["calls"].events == 1  # raw events
    _store(engine, [UsageEvent("t2", "c0", "call", T0, {"region": "us"})])  # catches t1 up too
    with engine.connect() as connection:
        assert len(rollups.fresh_signatures(connection, CATALOG.metrics)) == len(CATALOG.metrics)
        usage = meter_segments(connection, CATALOG, [key])[key]
    assert (usage["calls"].events, usage["eu_calls"].events) == (2, 1)


def _calls_catalog(region: str):
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [
                {"code": "calls", "event_type": "call", "aggregation": "count", "filters": {"region": region}}
            ],
            "plans": [
                {
                    "code": "p",
                    "interval": "monthly",
                    "charges": [{"model": "per_unit", "metric": "calls", "unit_price": "1"}],
                }
            ],
            "customers": [{"id": "c0", "email": "c0@x.example"}],
        }
    )


def test_a_changed_definition_under_the_same_code_gets_its_own_rollups(engine):
    _store(engine, [UsageEvent("t1", "c0", "call", T0, {"region": "eu"})])
    first, changed = _calls_catalog("eu"), _calls_catalog("us")  # `calls` redefined
    with engine.begin() as connection:
        save_catalog(connection, first, "first", T0)
        save_catalog(connection, changed, "second", T0 + timedelta(hours=1))
        save_catalog(connection, first, "first again", T0 + timedelta(hours=2))  # nothing to build
        signatures = connection.execute(sa.select(sa.func.count()).select_from(RollupSignature)).scalar()
    assert signatures == 2
    _store(
        engine,
        [
            UsageEvent("t2", "c0", "call", T0, {"region": "us"}),
            UsageEvent("t3", "c0", "call", T0, {"region": "us"}),
        ],
    )
    key = ("c0", T0, T0 + timedelta(days=1))
    with engine.connect() as connection:
        assert len(rollups.fresh_signatures(connection, [*first.metrics, *changed.metrics])) == 2
        old = meter_segments(connection, first, [key])[key]["calls"]
        new = meter_segments(connection, changed, [key])[key]["calls"]
    assert (old.events, new.events) == (1, 2)  # a backfill rating with the first version finds its own


def test_ingest_keeps_rollups_through_late_events_and_re_ingest(engine, event_suite):
    from tests.integration.test_ingest_rows import CATALOG as INGEST_CATALOG

    with engine.begin() as connection:
        save_catalog(connection, INGEST_CATALOG, "test", T0)
    lines = [
        b'{"transaction_id": "s1", "customer_id": "acme", "event_type": "storage", '
        b'"timestamp": "2026-03-05T10:00:00Z", "properties": {"gb": "0.1"}}',
        b'{"transaction_id": "s2", "customer_id": "acme", "event_type": "storage", '
        b'"timestamp": "2026-03-02T10:14:59.999999Z", "properties": {"gb": "0.2"}}',
    ]
    records = [record_of_line(n, line) for n, line in enumerate(lines, 1)]
    now = datetime(2026, 3, 20, tzinfo=UTC)
    first = ingest_records(engine, INGEST_CATALOG, event_suite, records, "a", now)
    again = ingest_records(engine, INGEST_CATALOG, event_suite, records, "a", now)
    assert (first.accepted, again.duplicates) == (2, 2)
    key = ("acme", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with engine.connect() as connection:
        assert len(rollups.fresh_signatures(connection, INGEST_CATALOG.metrics)) == 2
        rows = connection.execute(sa.select(UsageRollup.bucket, UsageRollup.value)).all()
        usage = meter_segments(connection, INGEST_CATALOG, [key])[key]
    assert usage["storage"].quantity == Decimal("0.3")
    assert sorted((b, v) for b, v in rows if v) == [
        (datetime(2026, 3, 2, 10, tzinfo=UTC), Decimal("0.2")),
        (datetime(2026, 3, 5, 10, tzinfo=UTC), Decimal("0.1")),
    ]


def test_every_aggregation_merges_into_a_bucket_already_stored(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    at = T0 + timedelta(minutes=3)
    tier2 = {"tier": Decimal(2)}
    first = [
        UsageEvent("b-5", "c0", "store", at, {"gb": Decimal("9.5"), **tier2}),
        UsageEvent("b-6", "c0", "seat", at, {"n": Decimal(5)}),
        UsageEvent("b-7", "c0", "login", at, {"user": "u1"}),
        UsageEvent("b-8", "c0", "pay", at, {"amount": Decimal("0.1"), "live": True}),
    ]
    second = [
        UsageEvent("c-1", "c0", "store", at, {"gb": Decimal("2"), **tier2}),  # smaller: max stays
        UsageEvent("a-9", "c0", "seat", at, {"n": Decimal(9)}),  # same instant, smaller id: latest stays
        UsageEvent("B-2", "c0", "login", at, {"user": "u1"}),  # a value the bucket holds
        UsageEvent("c-2", "c0", "login", at, {"user": Decimal(1)}),
        UsageEvent("c-3", "c0", "pay", at, {"amount": Decimal("0.2"), "live": True}),
    ]
    third = [UsageEvent("c-4", "c0", "seat", at + timedelta(minutes=1), {"n": Decimal(7)})]  # later: wins
    key = ("c0", T0, T0 + QUARTER)
    _store(engine, first)
    _store(engine, second)
    with engine.connect() as connection:
        usage = meter_segments(connection, CATALOG, [key])[key]
    expected = measure(CATALOG.metrics, first + second, CATALOG.event_counted_metrics)
    assert usage == expected
    assert (usage["gb_max"].quantity, usage["seats"].quantity, usage["users"].quantity) == (
        Decimal("9.5"),
        Decimal(5),
        Decimal(2),
    )
    assert usage["paid"] == expected["paid"] and usage["paid"].events == 2
    _store(engine, third)
    with engine.connect() as connection:
        assert meter_segments(connection, CATALOG, [key])[key]["seats"].quantity == Decimal(7)
