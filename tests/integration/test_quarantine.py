"""Working the quarantine on both databases: retry once, held again with the reason, discard, list."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.services import quarantine as service
from billing.services.ingest import ingest_records
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, QuarantineAction, QuarantinedEvent
from billing.store.quarantine import (
    QuarantineFilter,
    actions_of,
    claim_held,
    count_quarantined,
    find_quarantined,
    quarantined_by_id,
)
from billing.store.usage_events import quarantine_fingerprint

NOW = datetime(2026, 3, 20, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
DOCUMENT: dict[str, Any] = {
    "currency": "USD",
    "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
    "plans": [
        {
            "code": "std",
            "interval": "monthly",
            "charges": [{"metric": "calls", "model": "per_unit", "unit_price": "0.10"}],
        }
    ],
    "customers": [
        {"id": "acme", "email": "a@acme.example", "contracts": [{"plan": "std", "starts_on": "2026-03-01"}]}
    ],
}


def _catalog(*extra: str):  # type: ignore[no-untyped-def]
    document = copy.deepcopy(DOCUMENT)
    for customer in extra:
        document["customers"].append(
            {
                "id": customer,
                "email": f"b@{customer}.example",
                "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
            }
        )
    return parse_catalog(document)


def _line(txid: str, customer: str = "acme", day: int = 5) -> str:
    row = {"transaction_id": txid, "customer_id": customer, "event_type": "call"}
    return json.dumps(row | {"timestamp": f"2026-03-{day:02d}T10:00:00Z"})


def _ingest(engine, catalog, suite, lines: list[str], source: str = "usage.jsonl"):  # type: ignore[no-untyped-def]
    records = [RawRecord(n, text=text) for n, text in enumerate(lines, start=1)]
    return ingest_records(engine, catalog, suite, records, source, NOW)


def _load(engine, catalog):  # type: ignore[no-untyped-def]
    with engine.begin() as connection:
        return save_catalog(connection, catalog, "test", NOW).catalog


def _held(engine, **criteria: str | None):  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return find_quarantined(connection, QuarantineFilter(**criteria), 100)  # type: ignore[arg-type]


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


WHO = service.Operator("ops", "customer added", LATER)


def test_retry_after_the_catalog_gains_the_missing_customer(engine, event_suite):
    first = _load(engine, _catalog())
    report = _ingest(engine, first, event_suite, [_line("t1"), _line("t2", "zulu"), _line("t3", "zulu", 6)])
    assert (report.accepted, report.quarantined) == (1, 2)
    assert [r.reason for r in _held(engine)] == ["unknown_customer", "unknown_customer"]

    widened = _load(engine, _catalog("zulu"))
    retried = service.retry_matching(
        engine, widened, event_suite, QuarantineFilter(reason="unknown_customer"), WHO
    )

    assert [o.outcome for o in retried.outcomes] == ["accepted", "accepted"]
    assert _held(engine) == []
    with engine.connect() as connection:
        stored = set(connection.scalars(sa.select(Event.transaction_id).where(Event.customer_id == "zulu")))
        done = find_quarantined(connection, QuarantineFilter(status="retried"), 10)
        trail = actions_of(connection, done[0].id)
    assert stored == {"t2", "t3"}
    assert {(r.resolution, r.resolved_at) for r in done} == {("accepted", LATER)}
    (action,) = trail
    assert (action.action, action.outcome, action.actor, action.note) == (
        "retry",
        "accepted",
        "ops",
        "customer added",
    )

    again = service.retry_matching(
        engine, widened, event_suite, QuarantineFilter(reason="unknown_customer"), WHO
    )
    assert again.outcomes == []  # once: nothing is held any more
    rows, skipped = service.selected_rows(engine, [done[0].id])
    assert rows == [] and skipped == [f"row {done[0].id} is retried (accepted) already: left as it is"]


def test_a_row_already_stored_meanwhile_is_a_duplicate(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t2", "zulu")])
    widened = _load(engine, _catalog("zulu"))
    _ingest(engine, widened, event_suite, [_line("t2", "zulu")])  # the file sent again, now accepted
    (row,) = _held(engine)

    retried = service.retry_rows(engine, widened, event_suite, [row], WHO)

    assert [o.outcome for o in retried.outcomes] == ["duplicate"]
    assert _count(engine, Event) == 1
    ((status, resolution),) = [(r.status, r.resolution) for r in _held(engine, status=None)]
    assert (status, resolution) == ("retried", "duplicate")


def test_a_row_that_still_fails_stays_held_once_with_its_new_reason(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t9", "zulu"), _line("t8", "yankee")])
    _ingest(engine, first, event_suite, [_line("t9", "acme")])  # t9 is now another event
    widened = _load(engine, _catalog("zulu"))
    rows = _held(engine)
    held_before = _count(engine, QuarantinedEvent)

    retried = service.retry_rows(engine, widened, event_suite, rows, WHO)

    outcomes = {o.id: (o.outcome, o.reason) for o in retried.outcomes}
    by_txid = {r.transaction_id: r for r in rows}
    assert outcomes[by_txid["t9"].id] == ("held", "conflict")
    assert outcomes[by_txid["t8"].id] == ("held", "unknown_customer")
    assert _count(engine, QuarantinedEvent) == held_before  # never a second copy of a row
    now_held = {r.transaction_id: r for r in _held(engine)}
    assert now_held["t9"].reason == "conflict" and now_held["t9"].id == by_txid["t9"].id
    assert now_held["t9"].fingerprint == quarantine_fingerprint("conflict", by_txid["t9"].payload)
    assert now_held["t8"] == by_txid["t8"]  # the same reason: untouched
    with engine.connect() as connection:
        (action,) = actions_of(connection, by_txid["t9"].id)
    assert (action.outcome, action.reason) == ("held", "conflict")

    _ingest(engine, widened, event_suite, [_line("t9", "zulu")])  # the same bad row sent again
    assert _count(engine, QuarantinedEvent) == held_before


def test_a_row_that_could_not_be_read_is_held_again_for_that_reason(engine, event_suite):
    first = _load(engine, _catalog())
    narrow = "the row has 4 cells, the header has 5 columns"
    records = [
        RawRecord(2, text="t1,acme,call,2026-03-05T10:00:00Z", unreadable=narrow),  # a CSV line
        RawRecord(3, text=_line("t2")[:20], unreadable="the row is 70,000 bytes long, over the limit"),
        RawRecord(4, text=_line("t3").replace("acme", "ac\\u0000me")),  # JSON, read again
    ]
    ingest_records(engine, first, event_suite, records, "usage.csv", NOW)
    rows = _held(engine)

    retried = service.retry_rows(engine, first, event_suite, rows, WHO)

    # before: the first two were held again as malformed_json ("Expecting value ...")
    assert {(o.outcome, o.reason) for o in retried.outcomes} == {("held", "unreadable_row")}
    assert _held(engine) == rows  # reason, detail and payload untouched
    assert {r.detail for r in rows} >= {narrow}


def test_discard_keeps_an_audit_row(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t2", "zulu"), "{not json"])
    rows = _held(engine, reason="malformed_json")

    report = service.discard_rows(engine, rows, service.Operator("ana", "garbage from a test run", LATER))

    assert [o.outcome for o in report.outcomes] == ["discarded"]
    assert [r.reason for r in _held(engine)] == ["unknown_customer"]
    (discarded,) = _held(engine, status="discarded")
    assert (discarded.resolution, discarded.resolved_at) == ("discarded", LATER)
    with engine.connect() as connection:
        (action,) = actions_of(connection, discarded.id)
    assert (action.action, action.actor, action.note, action.acted_at) == (
        "discard",
        "ana",
        "garbage from a test run",
        LATER,
    )
    assert _count(engine, QuarantineAction) == 1
    with pytest.raises(service.UnknownQuarantinedRow, match="no quarantined row with id 999"):
        service.selected_rows(engine, [discarded.id, 999])


def test_ids_and_limits_past_64_bits_name_no_row_instead_of_overflowing(engine, event_suite):
    """Before, the driver refused to bind them: an OverflowError (SQLite) or a DataError
    (PostgreSQL) traceback from `billing quarantine show 99999999999999999999`."""
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("t2", "zulu")])
    (held,) = _held(engine)
    huge = [2**63, 10**23, -(2**63) - 1]
    with pytest.raises(service.UnknownQuarantinedRow) as refused:
        service.selected_rows(engine, [held.id, *huge])
    assert str(refused.value) == f"no quarantined row with id {', '.join(map(str, sorted(huge)))}"
    with engine.begin() as connection:
        assert list(quarantined_by_id(connection, [held.id, *huge])) == [held.id]
        assert [row.id for row in claim_held(connection, [held.id, *huge])] == [held.id]
        assert [row.id for row in find_quarantined(connection, QuarantineFilter(), 10**20)] == [held.id]


def test_list_filters_by_reason_source_customer_and_status_newest_first(engine, event_suite):
    first = _load(engine, _catalog())
    _ingest(engine, first, event_suite, [_line("a1", "zulu"), "{nope"], source="inbox/a.jsonl")
    _ingest(
        engine, first, event_suite, [_line("b1", "yankee"), _line("b2", "zulu", 7)], source="inbox/b.jsonl"
    )

    assert [r.transaction_id for r in _held(engine, customer="zulu")] == ["b2", "a1"]
    assert [r.transaction_id for r in _held(engine, source="b.json")] == ["b2", "b1"]
    assert [r.line for r in _held(engine, reason="malformed_json")] == [2]
    assert _held(engine, source="%") == []  # a pattern character is matched as itself
    assert [r.transaction_id for r in _held(engine, status="discarded")] == []
    with engine.connect() as connection:
        assert count_quarantined(connection, QuarantineFilter(reason="unknown_customer")) == 3
        assert len(find_quarantined(connection, QuarantineFilter(), 2)) == 2
