"""A stored event whose metered property is not a number (only plain SQL can store one: ingest
quarantines it) is refused by metering on both databases alike, named, and only its customer
goes uninvoiced; before, PostgreSQL's invoice run died with a traceback for the whole chunk and
SQLite's billed the value as nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.core.errors import UnmeterableUsage
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.sources.usage_files import RawRecord
from billing.store import rollups
from billing.store.catalog_versions import save_catalog
from billing.store.database import lock_billing
from billing.store.metering_sql import meter_segments, stored_states

GRACE = timedelta(hours=24)
AS_OF = datetime(2026, 4, 5, tzinfo=UTC)
MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "tokens", "event_type": "llm", "aggregation": "sum", "field": "tokens"},
            {"code": "peak", "event_type": "llm", "aggregation": "max", "field": "tokens"},
            {"code": "seats", "event_type": "seat", "aggregation": "latest", "field": "n"},
        ],
        "plans": [
            {
                "code": "std",
                "interval": "monthly",
                "charges": [
                    {"metric": "tokens", "model": "per_unit", "unit_price": "0.01"},
                    {"metric": "peak", "model": "per_unit", "unit_price": "0.10"},
                    {"metric": "seats", "model": "per_unit", "unit_price": "5.00"},
                ],
            }
        ],
        "customers": [
            {
                "id": cid,
                "email": f"{cid}@x.example",
                "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
            }
            for cid in ("bad", "good")
        ],
    }
)


@pytest.fixture
def stored(engine, event_suite):
    with engine.begin() as connection:
        stored = save_catalog(connection, CATALOG, "test", datetime(2026, 3, 1, tzinfo=UTC))
    records = [
        RawRecord(n, json.dumps(row))
        for n, row in enumerate(
            {
                "transaction_id": f"t-{cid}",
                "customer_id": cid,
                "event_type": "llm",
                "timestamp": "2026-03-05T00:00:00Z",
                "properties": {"tokens": 100},
            }
            for cid in ("bad", "good")
        )
    ]
    report = ingest_records(engine, CATALOG, event_suite, records, "test", AS_OF)
    assert report.accepted == 2
    return stored


def _behind_ingest(
    engine,
    event_type: str,
    properties: str,
    txid: str = "plain-1",
    customer: str = "bad",
    at: datetime = datetime(2026, 3, 10, tzinfo=UTC),
) -> None:
    """What an operator's INSERT does: no validation, no rollups."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO events (transaction_id, customer_id, event_type, timestamp, properties, "
                "payload_hash, received_at, late, pending_adjustment) VALUES (:t, :c, :type, :at, "
                ":p, 'x', :at, false, false)"
            ),
            {"t": txid, "c": customer, "type": event_type, "at": at, "p": properties},
        )


@pytest.mark.parametrize(
    ("event_type", "properties"),
    [
        ("llm", '{"tokens": {"a": 1}}'),  # an object
        ("llm", '{"tokens": "12"}'),  # a string of digits: PostgreSQL's text cast billed it as 12
        ("llm", '{"tokens": true}'),
        ("seat", '{"n": [3]}'),  # `latest`
    ],
)
def test_the_customer_holding_it_is_named_and_the_others_are_invoiced(engine, stored, event_type, properties):
    _behind_ingest(engine, event_type, properties)

    report = invoice_customers(engine, stored, ["bad", "good"], AS_OF, grace=GRACE, due_days=30, now=AS_OF)

    assert list(report.failures) == ["bad"]
    field = "n" if event_type == "seat" else "tokens"
    assert report.failures["bad"].startswith(
        f"stored {event_type!r} event 'plain-1' has a {field!r} that is not"
    )
    assert "fix or delete it" in report.failures["bad"]
    assert report.customers == 2
    assert {o.customer_id for o in report.outcomes} == {"good"}


def test_a_json_null_is_no_value_as_a_missing_property_is(engine, stored):
    _behind_ingest(engine, "llm", '{"tokens": null}')
    with engine.connect() as connection:
        usage = meter_segments(connection, CATALOG, [("bad", *MARCH)])
    assert usage[("bad", *MARCH)]["tokens"].quantity == 100


def test_a_preview_is_refused_naming_the_event(engine, stored):
    _behind_ingest(engine, "llm", '{"tokens": "12"}')
    with engine.connect() as connection, pytest.raises(UnmeterableUsage) as refused:
        stored_states(connection, CATALOG, [("bad", *MARCH)])
    assert list(refused.value.customers) == ["bad"]
    assert str(refused.value).startswith("bad: stored 'llm' event 'plain-1' has a 'tokens'")


def test_a_customer_whose_refused_event_lies_outside_the_metered_period_is_invoiced(engine, stored):
    _behind_ingest(engine, "llm", '{"tokens": "5"}')  # bad's March: metered, refused
    # good's is in April, which this run does not meter
    _behind_ingest(engine, "llm", '{"tokens": "5"}', "plain-2", "good", datetime(2026, 4, 3, tzinfo=UTC))

    report = invoice_customers(engine, stored, ["bad", "good"], AS_OF, grace=GRACE, due_days=30, now=AS_OF)

    assert list(report.failures) == ["bad"]
    assert {o.customer_id for o in report.outcomes} == {"good"}


def test_an_older_definition_of_a_metric_does_not_refuse_what_the_active_one_accepts(engine, event_suite):
    """Every definition ever saved keeps its rollups: v1 sums `tier`, v2 counts its distinct
    values, and v2's events hold text there. Ingest goes on (the rollups take in numbers only)."""

    def catalog(aggregation: str):
        document = {
            "currency": "USD",
            "metrics": [{"code": "tier", "event_type": "llm", "aggregation": aggregation, "field": "tier"}],
            "plans": [{"code": "p", "interval": "monthly", "charges": [{"model": "flat", "amount": "1.00"}]}],
            "customers": [
                {"id": "c", "email": "c@x.example", "contracts": [{"plan": "p", "starts_on": "2026-03-01"}]}
            ],
        }
        return parse_catalog(document)

    with engine.begin() as connection:
        save_catalog(connection, catalog("sum"), "v1", datetime(2026, 3, 1, tzinfo=UTC))
        save_catalog(connection, catalog("unique_count"), "v2", datetime(2026, 3, 2, tzinfo=UTC))
    event = {
        "transaction_id": "g1",
        "customer_id": "c",
        "event_type": "llm",
        "timestamp": "2026-03-05T00:00:00Z",
    }
    records = [RawRecord(0, json.dumps({**event, "properties": {"tier": "gold"}}))]
    report = ingest_records(engine, catalog("unique_count"), event_suite, records, "test", AS_OF)
    assert (report.accepted, report.quarantined) == (1, 0)
    with engine.begin() as connection:
        lock_billing(connection)
        rollups.add_events_after(connection, 0)  # nothing refused


def test_the_api_answers_409_naming_the_event(engine):
    from tests.e2e.conftest import client_for

    api = client_for(engine)  # the fixture catalog: charlie's plan meters tokens (a sum)
    _behind_ingest(
        engine, "llm", '{"tokens": "500"}', "plain-9", "charlie", datetime(2026, 3, 12, tzinfo=UTC)
    )
    for answer in (
        api.post("/v1/customers/charlie/preview", json={"events": [], "mode": "merge"}),
        api.get("/v1/customers/charlie/usage"),
    ):
        assert answer.status_code == 409, answer.text
        error = answer.json()["error"]
        assert error["code"] == "unmeterable_usage"
        assert error["message"].startswith("charlie: stored 'llm' event 'plain-9' has a 'tokens'")
