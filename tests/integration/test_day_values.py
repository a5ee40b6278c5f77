"""Day values (`usage_rollup_day_values`, kept by a trigger on `usage_rollup_values`) stay in
step with the rollup values they summarize.

For any events stored across several ingests in any time order, batches stored again, and a
catalog saved after some of them (its rollups built from what is stored), on SQLite and
PostgreSQL: each (customer, signature, UTC day, value) of the buckets' values has exactly one
row, whose first and last buckets are the least and greatest bucket of that day holding the
value, and no row is left without a value.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.store.models import UsageRollupDayValue, UsageRollupValue
from tests.integration.test_rollups import _batches, store_around_catalog

T0 = datetime(2026, 3, 1, tzinfo=UTC)
Key = tuple[str, str, datetime, str]


def _aware(instant: datetime) -> datetime:
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _day_values(connection: sa.Connection) -> dict[Key, tuple[datetime, datetime]]:
    d = UsageRollupDayValue
    rows = connection.execute(
        sa.select(d.customer_id, d.signature, d.day, d.value, d.first_bucket, d.last_bucket)
    )
    return {(c, s, _aware(day), v): (_aware(first), _aware(last)) for c, s, day, v, first, last in rows}


def _from_values(connection: sa.Connection) -> dict[Key, tuple[datetime, datetime]]:
    v = UsageRollupValue
    found: dict[Key, tuple[datetime, datetime]] = {}
    for customer, signature, bucket, value in connection.execute(
        sa.select(v.customer_id, v.signature, v.bucket, v.value)
    ):
        bucket = _aware(bucket)
        key = (customer, signature, bucket.replace(hour=0, minute=0), value)
        first, last = found.get(key, (bucket, bucket))
        found[key] = (min(first, bucket), max(last, bucket))
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=_batches(), saved_after=st.integers(0, 3))
def test_a_day_row_is_the_first_and_last_bucket_of_the_days_value(engine, wipe, batches, saved_after):
    wipe()
    store_around_catalog(engine, batches, saved_after)
    with engine.connect() as connection:
        rows, expected = _day_values(connection), _from_values(connection)
    assert rows == expected
