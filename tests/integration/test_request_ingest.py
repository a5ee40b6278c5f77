"""`RequestIngest`: concurrent requests' chunks stored in one transaction, each reported as if
stored alone in that order (first occurrence of a transaction id wins), rollups kept exact; a
failing shared transaction is retried chunk by chunk, so an error is its own chunk's."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from billing.services import ingest_requests
from billing.services.ingest_requests import RequestIngest
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event
from tests.integration.test_validation_rules import CATALOG, NOW


def _records(*rows: tuple[str, str, int]) -> list[RawRecord]:
    """(transaction id, customer, gb) rows of `storage` events."""
    return [
        RawRecord(
            n,
            data={
                "transaction_id": txid,
                "customer_id": customer,
                "event_type": "storage",
                "timestamp": "2026-03-05T10:00:00Z",
                "properties": {"gb": Decimal(gb)},
            },
        )
        for n, (txid, customer, gb) in enumerate(rows)
    ]


CHUNKS = [
    _records(("a1", "acme", 1), ("a2", "acme", 2), ("a2", "acme", 2)),
    _records(("a2", "acme", 2), ("a1", "acme", 9), ("b1", "nobody", 1), ("b2", "acme", -1)),
    _records(("c1", "acme", 5), ("b2", "acme", 3)),
]
# as stored one after the other: a2 repeated (duplicate), a1 sent again otherwise (conflict),
# an unknown customer, a bad property (quarantined before b2 is stored by the third chunk)
EXPECTED = [
    (3, 2, 1, 0, {}),
    (4, 0, 1, 3, {"conflict": 1, "unknown_customer": 1, "invalid_property": 1}),
    (2, 2, 0, 0, {}),
]


def _counts(report: Any) -> tuple[int, int, int, int, dict[str, int]]:
    return (report.received, report.accepted, report.duplicates, report.quarantined, dict(report.reasons))


def _ingest_queued(ingest: RequestIngest, engine, event_suite) -> dict[int, Any]:
    """Each chunk's request, started while a store is under way, queued in chunk order."""
    answers: dict[int, Any] = {}

    def post(n: int) -> None:
        try:
            answers[n] = ingest.ingest(engine, CATALOG, event_suite, CHUNKS[n], f"api:{n}", NOW)
        except Exception as error:
            answers[n] = error

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(CHUNKS))]
    with ingest._stores._running:  # a store under way: the requests queue behind it
        for n, thread in enumerate(threads):
            thread.start()
            _wait_until(lambda n=n: len(ingest._stores._waiting) == n + 1)
    for thread in threads:
        thread.join(60)
    return answers


def test_queued_requests_are_stored_in_one_transaction_as_if_one_by_one(engine, event_suite, monkeypatch):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    transactions: list[int] = []
    real = ingest_requests.store_chunks

    def counted(engine, chunks):
        transactions.append(len(chunks))
        return real(engine, chunks)

    monkeypatch.setattr(ingest_requests, "store_chunks", counted)
    answers = _ingest_queued(RequestIngest(), engine, event_suite)
    assert [_counts(answers[n]) for n in range(3)] == EXPECTED
    assert transactions == [3]
    with engine.connect() as connection:
        stored = dict(connection.execute(sa.select(Event.transaction_id, Event.properties)).all())
        maximum = connection.execute(sa.text("SELECT max(value), sum(events) FROM usage_rollups")).one()
    assert stored == {"a1": {"gb": 1}, "a2": {"gb": 2}, "c1": {"gb": 5}, "b2": {"gb": 3}}
    assert (int(maximum[0]), maximum[1]) == (5, 4)  # the rollups hold the four events


def test_a_failing_shared_transaction_stores_each_chunk_alone(engine, event_suite, monkeypatch):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    real = ingest_requests.store_chunks

    def fragile(engine, chunks):
        if len(chunks) > 1:
            raise RuntimeError("the shared transaction failed")
        return real(engine, chunks)

    monkeypatch.setattr(ingest_requests, "store_chunks", fragile)
    real_alone = ingest_requests.store_chunk

    def second_fails(engine, prepared):
        if prepared.checked.source == "api:1":
            raise RuntimeError("chunk 1's own failure")
        return real_alone(engine, prepared)

    monkeypatch.setattr(ingest_requests, "store_chunk", second_fails)
    answers = _ingest_queued(RequestIngest(), engine, event_suite)
    assert _counts(answers[0]) == EXPECTED[0]
    assert str(answers[1]) == "chunk 1's own failure"
    assert _counts(answers[2]) == (2, 2, 0, 0, {})


def _wait_until(condition: Any) -> None:
    for _ in range(2000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the requests did not queue")
