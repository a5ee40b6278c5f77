"""The usage per local day (`usage_by_day`: every metric of every day in one statement over the
usage rollups) equals each local day's events metered alone by the core's definition, on SQLite
and PostgreSQL, and equals the raw-event read (rollups set aside).

The days are those a DST change makes 25 hours long (Europe/Paris, end of October; America/New_York,
beginning of November) or 23 (America/New_York in March), and those of a +05:45 zone (Asia/Kathmandu,
whose midnight is 18:15 UTC), UTC days (read whole from the day tier), and days of any quarter-hour
edges (`GRID`: a piece of a UTC day touching neither of its midnights, which no zone has today,
needs the probe of `billing.store.day_values`): events fall on the edges exactly, a microsecond
either side, in the repeated or skipped hour, and anywhere else in the days; every aggregation,
filters included (the catalog of `test_metering_sql`); some stored before the catalog is saved
(its rollups built from them), the rest after.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent
from billing.core.metering import measure
from billing.core.periods import local_midnight
from billing.store import metering_sql, rollup_days, rollups
from billing.store.catalog_versions import save_catalog
from billing.store.daily_usage import usage_by_day
from tests.integration.test_metering_sql import CATALOG
from tests.integration.test_rollup_states import NUMBERS, USERS, _refuse_raw, _store

# (zone, first local day): four days holding a DST change, or a +05:45 zone's days
RUNS = [
    ("Europe/Paris", date(2026, 10, 24)),  # 25 October 2026: 25 hours
    ("America/New_York", date(2026, 10, 31)),  # 1 November 2026: 25 hours
    ("America/New_York", date(2026, 3, 7)),  # 8 March 2026: 23 hours
    ("Asia/Kathmandu", date(2026, 3, 1)),  # +05:45 all year
    ("UTC", date(2026, 3, 1)),  # whole UTC days
    ("GRID", date(2026, 3, 1)),  # not a zone: the edges of `GRID_EDGES`
]
DAYS = 4
GRID_EDGES = [  # a day inside a UTC day, one over three UTC days, one inside, one to midnight
    datetime(2026, 3, 1, 1, tzinfo=UTC),
    datetime(2026, 3, 1, 23, tzinfo=UTC),
    datetime(2026, 3, 3, 0, 45, tzinfo=UTC),
    datetime(2026, 3, 3, 10, 30, tzinfo=UTC),
    datetime(2026, 3, 4, tzinfo=UTC),
]


def _edges(zone: str, first: date) -> list[datetime]:
    if zone == "GRID":
        return GRID_EDGES
    tz = ZoneInfo(zone)
    return [local_midnight(first + timedelta(days=n), tz) for n in range(DAYS + 1)]


@st.composite
def _instant(draw: st.DrawFn, edges: list[datetime]) -> datetime:
    """A local midnight or a microsecond either side, or any instant from an hour before the
    first day to an hour after the last."""
    if draw(st.booleans()):
        edge = draw(st.sampled_from(edges))
        return edge + timedelta(microseconds=draw(st.sampled_from([-1, 0, 1])))
    span = int((edges[-1] - edges[0]).total_seconds()) + 7200
    return edges[0] - timedelta(hours=1) + timedelta(seconds=draw(st.integers(0, span - 1)))


@st.composite
def _case(draw: st.DrawFn) -> tuple[str, list[datetime], list[UsageEvent]]:
    zone, first = draw(st.sampled_from(RUNS))
    edges = _edges(zone, first)
    events = []
    for n in range(draw(st.integers(1, 40))):
        kind = draw(st.sampled_from(["call", "store", "login", "seat", "pay", "other"]))
        props: dict[str, object] = {}
        if kind == "call":
            props = {"region": draw(st.sampled_from(["eu", "us"]))}
        elif kind == "store":
            props = {"gb": draw(NUMBERS), "tier": Decimal(2)}
        elif kind == "login":
            props = {"user": draw(st.sampled_from([u for u in USERS if u is not None]))}
        elif kind == "seat":
            props = {"n": draw(NUMBERS)}
        elif kind == "pay":
            props = {"amount": draw(NUMBERS), "live": draw(st.booleans())}
        prefix = draw(st.sampled_from(["a", "B", "b"]))  # ties on `latest` break in byte order
        customer = f"c{draw(st.integers(0, 1))}"
        events.append(UsageEvent(f"{prefix}{n}", customer, kind, draw(_instant(edges)), props))
    return zone, edges, events


def test_the_runs_hold_the_days_they_say():
    hours = {
        (zone, first): [(b - a) / timedelta(hours=1) for a, b in pairwise(_edges(zone, first))]
        for zone, first in RUNS
    }
    assert hours[("Europe/Paris", date(2026, 10, 24))] == [24, 25, 24, 24]
    assert hours[("America/New_York", date(2026, 10, 31))] == [24, 25, 24, 24]
    assert hours[("America/New_York", date(2026, 3, 7))] == [24, 23, 24, 24]
    assert _edges("Asia/Kathmandu", date(2026, 3, 1))[0] == datetime(2026, 2, 28, 18, 15, tzinfo=UTC)
    assert all(rollups.on_grid(e) for zone, first in RUNS for e in _edges(zone, first))
    pieces = rollup_days.day_pieces(GRID_EDGES)
    assert [(p.day, p.whole, p.inside) for p in pieces] == [
        (1, False, True),
        (2, False, False),
        (2, True, False),
        (2, False, False),
        (3, False, True),
        (4, False, False),
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_case(), cut=st.integers(0, 40))
def test_each_day_is_its_local_days_events_metered_alone(engine, wipe, case, cut):
    zone, edges, events = case
    wipe()
    _store(engine, events[:cut])
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", edges[0])  # builds the rollups of what is stored
    _store(engine, events[cut:])
    for customer in ("c0", "c1"):
        with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
            assert rollups.fresh_signatures(connection, CATALOG.metrics) == {
                rollups.signature_of(m) for m in CATALOG.metrics
            }
            patch.setattr(metering_sql, "meter_segments", _refuse_raw)  # every metric from the rollups
            rolled = usage_by_day(connection, CATALOG, customer, edges)
        with engine.connect() as connection:
            raw = usage_by_day(connection, CATALOG, customer, edges, fresh=set())
        assert raw == rolled
        for (start, end), quantities in zip(pairwise(edges), rolled, strict=True):
            alone = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
            expected = {code: usage.quantity for code, usage in measure(CATALOG.metrics, alone).items()}
            assert quantities == expected, (zone, start)


def test_no_days_and_edges_out_of_order(engine):
    with engine.connect() as connection:
        assert usage_by_day(connection, CATALOG, "c0", []) == []
        assert usage_by_day(connection, CATALOG, "c0", [datetime(2026, 3, 1, tzinfo=UTC)]) == []
        with pytest.raises(ValueError, match="increase"):
            usage_by_day(
                connection,
                CATALOG,
                "c0",
                [datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)],
            )


def test_a_day_without_events_measures_zero(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 3, 1, tzinfo=UTC))
    edges = _edges("Europe/Paris", date(2026, 10, 24))
    _store(engine, [UsageEvent("x1", "c0", "login", edges[2], {"user": "u1"})])
    with engine.connect() as connection:
        found = usage_by_day(connection, CATALOG, "c0", edges)
    assert [d["users"] for d in found] == [0, 0, 1, 0]
    assert all(q == 0 for n, d in enumerate(found) for code, q in d.items() if n != 2 or code != "users")


def test_a_value_seen_before_and_after_a_day_inside_a_utc_day_is_not_in_it(engine):
    """The piece [01:00, 23:00) of 1 March touches neither UTC midnight: u1, seen at 00:30 and
    23:30 that UTC day, is not in it; u2, seen at 00:30, 12:00 and 23:30, is."""
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", GRID_EDGES[0])
    at = [datetime(2026, 3, 1, h, m, tzinfo=UTC) for h, m in ((0, 30), (12, 0), (23, 30))]
    logins = [("u1", at[0]), ("u1", at[2]), ("u2", at[0]), ("u2", at[1]), ("u2", at[2])]
    _store(engine, [UsageEvent(f"x{n}", "c0", "login", t, {"user": u}) for n, (u, t) in enumerate(logins)])
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "meter_segments", _refuse_raw)
        found = usage_by_day(connection, CATALOG, "c0", GRID_EDGES)
    assert [d["users"] for d in found] == [1, 2, 0, 0]
