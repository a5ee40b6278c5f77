"""Value spans (`billing.store.value_spans`) stay in step with the rollup values they summarize.

For any events stored across several ingests in any time order, batches stored again, and a
catalog saved after some of them (its rollups built from what is stored): each (customer,
signature, value) of `usage_rollup_values` has exactly one span, whose first and last buckets
are the least and greatest bucket holding the value, and no span is left without a value. The
distinct counts read from the spans equal the core's definition over the window's events: a
value seen only before and after a window is not in it, one seen inside is, whether the count
reads the spans or (a window of a day or less) the buckets' values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent
from billing.core.metering import measure
from billing.store import metering_sql, value_spans
from billing.store.catalog_versions import save_catalog
from billing.store.metering_sql import meter_segments
from billing.store.models import UsageRollupValue, UsageRollupValueSpan
from tests.integration.test_metering_sql import CATALOG
from tests.integration.test_rollups import WINDOWS, _batches, _raw_rows_refused, _store, store_around_catalog

T0 = datetime(2026, 3, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)


def _spans(connection: sa.Connection) -> dict[tuple[str, str, str], tuple[datetime, datetime]]:
    rows = connection.execute(
        sa.select(
            UsageRollupValueSpan.customer_id,
            UsageRollupValueSpan.signature,
            UsageRollupValueSpan.value,
            UsageRollupValueSpan.first_bucket,
            UsageRollupValueSpan.last_bucket,
        )
    )
    return {(c, s, v): (first, last) for c, s, v, first, last in rows}


def _from_values(connection: sa.Connection) -> dict[tuple[str, str, str], tuple[datetime, datetime]]:
    v = UsageRollupValue
    rows = connection.execute(
        sa.select(v.customer_id, v.signature, v.value, sa.func.min(v.bucket), sa.func.max(v.bucket)).group_by(
            v.customer_id, v.signature, v.value
        )
    )
    return {(c, s, value): (first, last) for c, s, value, first, last in rows}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches(), saved_after=st.integers(0, 3))
def test_spans_are_the_first_and_last_bucket_of_every_stored_value(engine, wipe, batches, saved_after):
    wipe()
    store_around_catalog(engine, batches, saved_after)
    with engine.connect() as connection:
        spans, expected = _spans(connection), _from_values(connection)
    assert spans == expected
    if any(e.event_type == "login" and "user" in e.properties for batch in batches for e in batch):
        assert spans  # the property is not vacuous when a distinct value was stored


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches(), windows=WINDOWS, short_hours=st.sampled_from([0, value_spans.SHORT_HOURS]))
def test_distinct_counts_from_spans_or_bucket_values_equal_the_core(
    engine, wipe, batches, windows, short_hours
):
    """Every window here is shorter than a day: SHORT_HOURS 0 makes them read the spans."""
    wipe()
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    for batch in batches:
        _store(engine, batch)
    events = list({e.transaction_id: e for batch in batches for e in batch}.values())
    segments = [(c, s, e) for c in ("c0", "c1") for s, e in windows]
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(value_spans, "SHORT_HOURS", short_hours)
        patch.setattr(metering_sql, "_postgres_rows", _raw_rows_refused)
        patch.setattr(metering_sql, "_sqlite_rows", _raw_rows_refused)
        from_rollups = meter_segments(connection, CATALOG, segments)
    for customer, start, end in segments:
        inside = [e for e in events if e.customer_id == customer and start <= e.timestamp < end]
        expected = measure(CATALOG.metrics, inside, CATALOG.event_counted_metrics)
        assert from_rollups[(customer, start, end)]["users"] == expected["users"], (customer, start, end)


def _login(n: int, user: str, at: datetime) -> UsageEvent:
    """A `login` event of c0: the catalog's `users` metric counts its distinct `user`."""
    return UsageEvent(f"t{n}", "c0", "login", at, {"user": user})


@pytest.mark.parametrize("short_hours", [0, value_spans.SHORT_HOURS], ids=["spans", "bucket-values"])
def test_a_value_seen_before_and_after_a_window_counts_only_when_seen_inside(engine, wipe, short_hours):
    wipe()
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", T0)
    _store(
        engine,
        [
            _login(1, "around", T0),  # before the window and after it, never inside
            _login(2, "around", T0 + 9 * QUARTER),
            _login(3, "through", T0),  # before, inside and after
            _login(4, "through", T0 + 5 * QUARTER),
            _login(5, "through", T0 + 9 * QUARTER),
            _login(6, "starts", T0 + 3 * QUARTER),  # first bucket inside
            _login(7, "starts", T0 + 9 * QUARTER),
            _login(8, "ends", T0),  # last bucket inside
            _login(9, "ends", T0 + 7 * QUARTER),
            _login(10, "gone", T0 + QUARTER),  # only before
        ],
    )
    window = ("c0", T0 + 2 * QUARTER, T0 + 8 * QUARTER)
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(value_spans, "SHORT_HOURS", short_hours)
        patch.setattr(metering_sql, "_postgres_rows", _raw_rows_refused)  # from the rollups only
        patch.setattr(metering_sql, "_sqlite_rows", _raw_rows_refused)
        from_rollups = meter_segments(connection, CATALOG, [window])[window]
        assert len(_spans(connection)) == 5
    with pytest.MonkeyPatch.context() as patch, engine.connect() as connection:
        patch.setattr(metering_sql, "USE_ROLLUPS", False)
        from_events = meter_segments(connection, CATALOG, [window])[window]
    assert from_rollups["users"].quantity == from_events["users"].quantity == 3  # through, starts, ends
