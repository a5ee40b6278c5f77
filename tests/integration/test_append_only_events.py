"""Usage events are append-only below the ORM (migration 0016): plain SQL can neither change what
an event says nor delete it, so the usage rollups, which trust the events they have taken in,
cannot be left counting usage that is no longer stored. Only the late-usage flag moves forward."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from billing.services.preview import preview
from billing.store import rollups
from tests.integration.test_immutable_invoices import triggers_off
from tests.integration.test_preview_merge import CATALOG, NOW, _events, _json
from tests.integration.test_preview_rollups import store_rolled_up

REFUSED = [
    pytest.param(
        "UPDATE events SET properties = '{\"tokens\": 1}' WHERE id = :id", "never changes", id="properties"
    ),
    pytest.param("UPDATE events SET customer_id = 'other' WHERE id = :id", "never changes", id="customer"),
    pytest.param("UPDATE events SET event_type = 'x' WHERE id = :id", "never changes", id="event-type"),
    pytest.param(
        "UPDATE events SET timestamp = received_at WHERE id = :id AND timestamp <> received_at",
        "never changes",
        id="timestamp",
    ),
    pytest.param("UPDATE events SET transaction_id = 'renamed' WHERE id = :id", "never changes", id="txid"),
    pytest.param("UPDATE events SET payload_hash = 'x' WHERE id = :id", "never changes", id="hash"),
    pytest.param("UPDATE events SET late = NOT late WHERE id = :id", "never changes", id="late"),
    pytest.param("UPDATE events SET id = id + 100000 WHERE id = :id", "never changes", id="id"),
    pytest.param(
        "UPDATE events SET pending_adjustment = TRUE WHERE id = :id", "never changes", id="flag-back"
    ),
    pytest.param("DELETE FROM events WHERE id = :id", "never deleted", id="delete"),
    pytest.param("DELETE FROM events", "never deleted", id="delete-all"),
]


@pytest.fixture
def stored(engine):
    """300 events of customer `c`, stored and rolled up as ingest stores them."""
    rng = random.Random(7)
    events = _events(rng, "s", 300)
    catalog = store_rolled_up(engine, events)
    return engine, catalog, events


def _rows(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text("SELECT * FROM events ORDER BY id"))]


def _first_id(engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT min(id) FROM events")).scalar_one())


@pytest.mark.parametrize(("statement", "message"), REFUSED)
def test_plain_sql_cannot_change_or_delete_a_stored_event(stored, statement, message):
    engine, catalog, events = stored
    before = _rows(engine)
    answer = preview(engine, catalog, "c", [], "merge", NOW)
    with pytest.raises(sa.exc.IntegrityError, match=message), engine.begin() as connection:
        connection.execute(sa.text(statement), {"id": _first_id(engine)})
    assert _rows(engine) == before
    assert preview(engine, catalog, "c", [], "merge", NOW) == answer  # rollups and events agree
    with engine.connect() as connection:
        assert len(rollups.fresh_signatures(connection, CATALOG.metrics)) == len(CATALOG.metrics)
    replaced = preview(engine, catalog, "c", [_json(e) for e in events], "replace", NOW)
    assert replaced["after"]["lines"] == answer["before"]["lines"]


def test_the_late_usage_flag_moves_from_pending_to_billed_only(stored):
    engine, _, _ = stored
    event_id = _first_id(engine)
    with engine.begin() as connection, triggers_off(connection):  # a late event, pending
        connection.execute(
            sa.text("UPDATE events SET pending_adjustment = TRUE WHERE id = :id"), {"id": event_id}
        )
    with engine.begin() as connection:  # what finalizing the invoice that bills it does
        moved = connection.execute(
            sa.text("UPDATE events SET pending_adjustment = FALSE WHERE id = :id"), {"id": event_id}
        )
    assert moved.rowcount == 1
    with pytest.raises(sa.exc.IntegrityError, match="never changes"), engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE events SET pending_adjustment = TRUE WHERE id = :id"), {"id": event_id}
        )
