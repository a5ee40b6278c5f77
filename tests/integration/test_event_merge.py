"""The chunk merge (COPY and one statement on PostgreSQL, lookups and executemany on SQLite)
decides every row as the rules say, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.events import UsageEvent, payload_hash
from billing.store import event_merge
from billing.store.database import lock_billing
from billing.store.models import CatalogVersion, CustomerRow, Event

NOW = datetime(2026, 3, 20, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
KNOWN = ("acme", "globex")


def _customers(connection: sa.Connection) -> None:
    version = connection.execute(
        sa.insert(CatalogVersion)
        .values(content_hash="x" * 64, document="{}", source="test", loaded_at=NOW, activated_at=NOW)
        .returning(CatalogVersion.id)
    ).scalar_one()
    for name in KNOWN:
        connection.execute(
            sa.insert(CustomerRow).values(
                id=name, name=name, email=f"{name}@example.com", timezone="UTC", catalog_version_id=version
            )
        )


def _event(txid: str, customer: str = "acme", n: int = 1, note: str = "") -> UsageEvent:
    properties = {"gb": Decimal(n), "note": note} if note else {"gb": Decimal(n)}
    return UsageEvent(txid, customer, "storage", T0 + timedelta(minutes=n), properties)


def _merge(engine, events):
    with engine.begin() as connection:
        lock_billing(connection)
        return event_merge.merge_events(connection, event_merge.stage(list(enumerate(events))), NOW)


def _stored(engine):
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Event.transaction_id, Event.payload_hash, Event.properties))
        return {txid: (digest, properties) for txid, digest, properties in rows}


def _expected(stored: dict[str, str], events: list[UsageEvent]) -> tuple[list[tuple[int, str]], int]:
    """The rules, written plainly: the verdict of each row not inserted, and how many are."""
    verdicts: list[tuple[int, str]] = []
    first: dict[str, str] = {}
    inserted = 0
    for index, event in enumerate(events):
        digest = event.payload_hash
        if event.customer_id not in KNOWN:
            verdicts.append((index, "unknown_customer"))
        elif event.transaction_id in first:
            verdicts.append((index, "duplicate" if first[event.transaction_id] == digest else "conflict"))
        else:
            first[event.transaction_id] = digest
            if event.transaction_id in stored:
                same = stored[event.transaction_id] == digest
                verdicts.append((index, "duplicate" if same else "conflict"))
            else:
                inserted += 1
    return sorted(verdicts), inserted


events_of_a_chunk = st.lists(
    st.builds(
        _event,
        txid=st.sampled_from([f"t{n}" for n in range(8)]),
        customer=st.sampled_from([*KNOWN, "nobody"]),
        n=st.integers(1, 3),
    ),
    max_size=25,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(earlier=events_of_a_chunk, chunk=events_of_a_chunk)
def test_every_row_gets_the_verdict_the_rules_give(engine, wipe, earlier, chunk):
    wipe()
    with engine.begin() as connection:
        _customers(connection)
    _merge(engine, earlier)
    stored = {txid: digest for txid, (digest, _) in _stored(engine).items()}
    result = _merge(engine, chunk)
    verdicts, inserted = _expected(stored, chunk)
    assert sorted((v.index, v.outcome) for v in result.verdicts) == verdicts
    assert result.inserted == inserted
    assert result.inserted + len(result.verdicts) == len(chunk)
    assert len(_stored(engine)) == len(stored) + inserted


def test_what_copy_gives_meaning_to_is_stored_as_sent(engine):
    with engine.begin() as connection:
        _customers(connection)
    awkward = ["tab\there", "new\nline", "back\\slash", "cr\rhere", "\\N", 'quote"d', "zürich ✓"]
    events = [_event(f"id {text}", n=n, note=text) for n, text in enumerate(awkward, start=1)]
    result = _merge(engine, events)
    assert (result.inserted, result.verdicts) == (len(awkward), [])
    stored = _stored(engine)
    for event in events:
        digest, properties = stored[event.transaction_id]
        assert properties == dict(event.properties)
        assert digest == payload_hash(event.customer_id, event.event_type, event.timestamp, event.properties)
    again = _merge(engine, events)  # the same ones again: all duplicates, found by their ids
    assert again.inserted == 0 and {v.outcome for v in again.verdicts} == {"duplicate"}


def test_two_chunks_merged_in_one_transaction_do_not_see_each_other_twice(engine):
    with engine.begin() as connection:
        _customers(connection)
        lock_billing(connection)
        staged = event_merge.stage([(0, _event("a")), (1, _event("b"))])
        first = event_merge.merge_events(connection, staged, NOW)
        second = event_merge.merge_events(connection, event_merge.stage([(0, _event("c"))]), NOW)
    assert (first.inserted, second.inserted, second.verdicts) == (2, 1, [])
    assert second.after_id == first.after_id + 2
    assert set(_stored(engine)) == {"a", "b", "c"}


def test_after_id_is_the_last_event_before_the_chunk(engine):
    with engine.begin() as connection:
        _customers(connection)
    _merge(engine, [_event("a"), _event("b")])
    result = _merge(engine, [_event("c"), _event("a")])
    with engine.connect() as connection:
        after = connection.scalars(sa.select(Event.transaction_id).where(Event.id > result.after_id))
        assert list(after) == ["c"]
