"""A preview over fresh rollups (events stored as ingest stores them) merges exactly as one that
prices the stored and added events together, and writes nothing to any table."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from billing.services.preview import preview
from billing.store import rollups
from billing.store.catalog_versions import save_catalog
from billing.store.database import lock_billing
from billing.store.usage_events import insert_events
from tests.integration.test_preview_merge import CATALOG, NOW, _events, _json


def _counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {n: int(connection.exec_driver_sql(f'SELECT count(*) FROM "{n}"').scalar_one()) for n in names}


def store_rolled_up(engine, events):
    """The catalog saved, then `events` stored and rolled up as ingest stores them."""
    with engine.begin() as connection:
        stored = save_catalog(connection, CATALOG, "test", NOW)
    with engine.begin() as connection:
        lock_billing(connection)
        after_id = rollups.greatest_event_id(connection)
        insert_events(connection, events, set(), NOW)
        rollups.add_events_after(connection, after_id)
    return stored


@pytest.mark.parametrize("seed", [1, 2])
def test_merge_on_fresh_rollups_equals_pricing_everything_and_writes_nothing(engine, seed):
    rng = random.Random(seed)
    stored_events, added = _events(rng, "s", 300), _events(rng, "x", 40)
    stored = store_rolled_up(engine, stored_events)
    with engine.connect() as connection:
        assert len(rollups.fresh_signatures(connection, CATALOG.metrics)) == len(CATALOG.metrics)
    counts = _counts(engine)
    resent = rng.sample(stored_events, 5)
    merged = preview(engine, stored, "c", [_json(e) for e in added + resent], "merge", NOW)
    together = preview(engine, stored, "c", [_json(e) for e in stored_events + added], "replace", NOW)
    assert _counts(engine) == counts  # a preview writes nothing, to any table
    assert merged["after"]["lines"] == together["after"]["lines"]
    assert merged["after"]["fingerprint"] == together["after"]["fingerprint"]
    assert merged["before"]["lines"] != merged["after"]["lines"]
