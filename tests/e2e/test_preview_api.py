"""The preview API through FastAPI's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from billing.api import dependencies as deps
from billing.api.app import create_app
from billing.core.events import dumps
from billing.runtime.settings import Settings
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.sources.catalog_file import load_catalog
from billing.sources.usage_files import read_chunks
from billing.store.api_keys import create_key, revoke_key
from billing.store.catalog_versions import active_catalog, save_catalog
from billing.store.models import Event, InvoiceRow
from billing.views.documents import invoice_document
from tests.conftest import FIXTURES

MID_MARCH = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.fixture
def api(engine, event_suite):
    with engine.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", MID_MARCH)
        key = create_key(connection, "tests", MID_MARCH)
    with engine.connect() as connection:
        stored = active_catalog(connection)
    for chunk in read_chunks(str(FIXTURES / "three_customers_usage.jsonl")):
        ingest_records(engine, stored.catalog, event_suite, chunk, "fixture", MID_MARCH + timedelta(days=30))
    # the opening invoices of March (boundary 0) are final, as they would be by mid-March
    invoice_customers(
        engine,
        stored,
        ["alpha", "bravo", "charlie"],
        MID_MARCH,
        grace=timedelta(hours=24),
        due_days=30,
        now=MID_MARCH,
    )
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False)), engine)
    app.dependency_overrides[deps.now] = lambda: MID_MARCH
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {key}"
    client.stored = stored  # type: ignore[attr-defined]
    return client


def _line(preview: dict, metric: str) -> dict:
    return next(line for line in preview["after"]["lines"] if line["metric"] == metric)


def _counts(engine):
    with engine.connect() as connection:
        return [connection.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Event, InvoiceRow)]


@pytest.mark.parametrize("customer", ["alpha", "bravo", "charlie"])
def test_preview_equals_the_invoice_line_for_line(api, engine, customer):
    before_counts = _counts(engine)
    response = api.post(f"/v1/customers/{customer}/preview", json={"events": [], "mode": "merge"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert _counts(engine) == before_counts  # a preview writes nothing
    assert body["cost"] == "0.00" and body["before"] == body["after"]

    # The invoice the April 1 boundary issues, computed by the invoice run (dry run).
    run = invoice_customers(
        engine,
        api.stored,
        [customer],
        datetime(2026, 4, 3, tzinfo=UTC),
        grace=timedelta(hours=24),
        due_days=30,
        now=MID_MARCH,
        dry_run=True,
    )
    (outcome,) = run.outcomes
    assert body["after"]["total"] == f"{outcome.total:f}"
    invoice = _dry_run_document(engine, api.stored, customer)
    assert body["after"]["lines"] == invoice["lines"]
    assert body["after"]["fingerprint"] == invoice["fingerprint"]
    assert body["period"] == invoice["period"]


def _dry_run_document(engine, stored, customer):
    from billing.core.invoicing import draft_invoice, usage_segments
    from billing.core.periods import Schedule
    from billing.store.invoice_records import billing_states
    from billing.store.metering_sql import meter_segments

    schedule = Schedule(stored.catalog, stored.catalog.customer(customer))
    with engine.connect() as connection:
        state = billing_states(connection, [customer])[customer]
        segments = usage_segments(schedule, 1)
        usage = meter_segments(connection, stored.catalog, [(customer, s.start, s.end) for s in segments])
    by_segment = {(s, e): u for (_, s, e), u in usage.items()}
    draft = draft_invoice(stored.catalog, schedule, 1, by_segment, state.billed, state.credits_used)
    return invoice_document(draft.as_invoice(), with_number=False)


def test_merge_adds_events_and_replace_prices_them_alone(api):
    events = [{"event_type": "api_call"}, {"event_type": "api_call", "transaction_id": "what-if-2"}]
    merged = api.post("/v1/customers/alpha/preview", json={"events": events, "mode": "merge"}).json()
    # alpha has 7 March calls at 0.10; 2 more cost 0.20.
    assert merged["cost"] == "0.20"
    calls = _line(merged, "api_calls")
    assert (calls["quantity"], calls["amount"]) == ("9", "0.90")

    replaced = api.post("/v1/customers/alpha/preview", json={"events": events, "mode": "replace"}).json()
    calls = _line(replaced, "api_calls")
    assert (calls["quantity"], calls["amount"]) == ("2", "0.20")
    assert replaced["cost"] == "-0.50"
    assert replaced["before"] == merged["before"]


def test_usage_under_the_minimum_costs_nothing_more(api):
    # bravo's March charges are 55.05, under its 60.00 minimum: 2 more calls (2.00) are absorbed
    # by a smaller true-up; 10 more (first 2 at 1.00, next 5 at 0.50, 3 at 0.25) lift it to 60.30.
    two = api.post("/v1/customers/bravo/preview", json={"events": [{"event_type": "api_call"}] * 2}).json()
    assert two["cost"] == "0.00"
    assert [line["amount"] for line in two["after"]["lines"]] == ["50.00", "5.00", "2.05", "2.95"]
    ten = api.post("/v1/customers/bravo/preview", json={"events": [{"event_type": "api_call"}] * 10}).json()
    assert ten["cost"] == "0.30"
    calls = _line(ten, "api_calls")
    assert calls["description"] == "API calls: first 5 at $1.00, next 5 at $0.50, 3 at $0.25"


def test_numbers_in_events_stay_exact(api):
    # Sent as JSON text: a float would read 1000.000000000000000001 as 1000.0.
    body = (
        b'{"events": [{"event_type": "storage",'
        b' "properties": {"gb": 1000.000000000000000001, "region": "eu"}}]}'
    )
    response = api.post(
        "/v1/customers/bravo/preview", content=body, headers={"Content-Type": "application/json"}
    )
    storage = _line(response.json(), "storage_gb")
    assert storage["quantity"] == "1000.000000000000000001"
    # volume: every GB at the unbounded tier's 0.05 = 50.00000000000000000005, rounded once
    assert storage["amount"] == "50.00"


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        ({"Authorization": ""}, 401, "unauthorized"),
        ({"Authorization": "Bearer nope"}, 401, "unauthorized"),
        ({"Authorization": "Basic abc"}, 401, "unauthorized"),
    ],
)
def test_preview_needs_a_valid_key(api, headers, status, code):
    response = api.post("/v1/customers/bravo/preview", json={"events": []}, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_a_revoked_key_is_refused(api, engine):
    with engine.begin() as connection:
        revoke_key(connection, "tests", MID_MARCH)
    response = api.post("/v1/customers/bravo/preview", json={"events": []})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "fragment"),
    [
        ("/v1/customers/zulu/preview", {"events": []}, 404, "unknown_customer", "zulu"),
        (  # an id of 20,000 characters is repeated cut, its length said
            f"/v1/customers/{'z' * 20_000}/preview",
            {"events": []},
            404,
            "unknown_customer",
            f"unknown customer '{'z' * 200}'... (20,000 characters)",
        ),
        ("/v1/customers/bravo/preview", {"events": [], "mode": "sideways"}, 422, "invalid_usage", "mode"),
        ("/v1/customers/bravo/preview", {"events": "no"}, 422, "invalid_usage", "events"),
        (
            "/v1/customers/bravo/preview",
            {"events": [{"event_type": "storage", "properties": {"gb": "lots", "region": "eu"}}]},
            422,
            "invalid_usage",
            "events[0]: property 'gb' must be a number",
        ),
        (
            "/v1/customers/bravo/preview",
            {"events": [{"event_type": "api_call", "timestamp": "2026-05-01T00:00:00Z"}]},
            422,
            "invalid_usage",
            # in bravo's zone, as every instant the API writes (it was in UTC, +00:00)
            "outside the current period 2026-03-01T00:00:00-05:00 .. 2026-04-01T00:00:00-04:00",
        ),
        (
            "/v1/customers/bravo/preview",
            {"events": [{"event_type": "api_call", "customer_id": "alpha"}]},
            422,
            "invalid_usage",
            "is not 'bravo'",
        ),
    ],
)
def test_bad_requests_get_a_clear_4xx(api, path, body, status, code, fragment):
    response = api.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert fragment in error["message"]


def test_invalid_json_is_a_422_not_a_500(api):
    response = api.post(
        "/v1/customers/bravo/preview", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_usage"


def test_too_many_events_are_refused(api):
    response = api.post("/v1/customers/bravo/preview", json={"events": [{"event_type": "api_call"}] * 1001})
    assert response.status_code == 422
    assert "1000" in response.json()["error"]["message"]


def test_healthz(api):
    assert api.get("/healthz").json() == {"status": "ok"}


def test_the_invoice_still_in_its_grace_period_is_not_billed_twice(api, engine):
    # April 1, 10:00 UTC: March's closing invoice (with April's fee) is a draft for 24 hours.
    april = datetime(2026, 4, 1, 10, tzinfo=UTC)
    run = invoice_customers(
        engine, api.stored, ["alpha"], april, grace=timedelta(hours=24), due_days=30, now=april
    )
    assert [(o.status, str(o.total)) for o in run.outcomes] == [("draft", "10.70")]
    api.app.dependency_overrides[deps.now] = lambda: april
    body = api.post("/v1/customers/alpha/preview", json={"events": []}).json()
    # The invoice closing April bills April's usage (none yet) and May's fee: not April's again.
    assert [(line["description"], line["amount"]) for line in body["after"]["lines"]] == [
        ("API calls: 0 at $0.10", "0.00"),
        ("Basic plan: $10.00", "10.00"),
    ]
    assert body["after"]["total"] == "10.00"


def test_events_already_ingested_are_not_counted_twice(api):
    # a-0 is stored: sending it again, as ingestion would, is a duplicate that costs nothing
    same = {"transaction_id": "a-0", "event_type": "api_call", "timestamp": "2026-03-02T10:00:00Z"}
    body = api.post("/v1/customers/alpha/preview", json={"events": [same, same]}).json()
    assert body["cost"] == "0.00"
    other = {**same, "timestamp": "2026-03-03T10:00:00Z"}
    response = api.post("/v1/customers/alpha/preview", json={"events": [other]})
    assert response.status_code == 422
    assert response.json()["error"]["problems"][0]["reason"] == "conflict"


def test_an_event_sent_without_an_id_is_new_whatever_ids_are_stored_or_sent(api, engine):
    """An event without a transaction_id was given `preview-<index>`, and so compared with a
    stored event of that id (any customer's): refused as a `conflict` for an id the caller
    never sent, or not counted at all, a duplicate, when the payload happened to match."""
    stored = {"transaction_id": "preview-0", "event_type": "api_call", "timestamp": "2026-03-10T00:00:00Z"}
    answer = api.post("/v1/events", json={"events": [{**stored, "customer_id": "alpha"}]}).json()
    assert answer["accepted"] == 1
    unnamed = {"event_type": "api_call"}
    response = api.post("/v1/customers/alpha/preview", json={"events": [unnamed]})
    assert response.status_code == 200, response.text
    assert response.json()["cost"] == "0.10"
    same_payload = {"event_type": "api_call", "timestamp": "2026-03-10T00:00:00Z"}
    assert api.post("/v1/customers/alpha/preview", json={"events": [same_payload]}).json()["cost"] == "0.10"
    # nor is it taken for an event of the request that is named so
    named = {"transaction_id": "preview-1", "event_type": "api_call"}
    response = api.post("/v1/customers/alpha/preview", json={"events": [named, {"event_type": "api_call"}]})
    assert response.status_code == 200, response.text
    assert response.json()["cost"] == "0.20"
    # the caller's own ids are still checked against the store
    again = {**unnamed, "transaction_id": "preview-0"}
    response = api.post("/v1/customers/alpha/preview", json={"events": [again]})
    assert response.json()["error"]["problems"][0]["reason"] == "conflict"


@pytest.mark.parametrize("customer", ["alpha", "bravo", "charlie"])
def test_the_periods_events_previewed_alone_equal_its_invoice(api, engine, customer):
    body = api.post(f"/v1/customers/{customer}/preview", json={"events": []}).json()
    start, end = (datetime.fromisoformat(body["period"][k]) for k in ("start", "end"))
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Event.transaction_id, Event.event_type, Event.timestamp, Event.properties).where(
                Event.customer_id == customer, Event.timestamp >= start, Event.timestamp < end
            )
        )
        events = [
            {"transaction_id": t, "event_type": k, "timestamp": at.isoformat(), "properties": p}
            for t, k, at, p in rows
        ]
    assert events, "the fixture stores usage in this period"
    document = dumps({"events": events, "mode": "replace"})  # numbers as exact JSON text
    response = api.post(
        f"/v1/customers/{customer}/preview", content=document, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    invoice = _dry_run_document(engine, api.stored, customer)
    assert replaced["after"]["lines"] == invoice["lines"]
    assert replaced["after"]["fingerprint"] == invoice["fingerprint"]
    assert replaced["after"] == body["before"] and replaced["cost"] == "0.00"


def test_a_preview_takes_one_connection_and_prices_with_the_catalog_active_in_its_snapshot(api, engine):
    checkouts: list[object] = []

    def counted(*_: object) -> None:
        checkouts.append(1)

    sa.event.listen(engine, "checkout", counted)
    try:
        first = api.post("/v1/customers/alpha/preview", json={"events": [], "mode": "merge"})
        assert first.status_code == 200, first.text
        checkouts.clear()  # the first request also looked the API key up
        again = api.post("/v1/customers/alpha/preview", json={"events": [], "mode": "merge"})
        assert again.status_code == 200 and len(checkouts) == 1
        assert again.json()["catalog_version"] == api.stored.content_hash

        document = api.stored.catalog.model_dump(mode="json")
        document["plans"][0]["name"] = "Renamed"  # another version of the catalog, loaded now
        with engine.begin() as connection:
            save_catalog(connection, type(api.stored.catalog).model_validate(document), "edit", MID_MARCH)
            newer = active_catalog(connection)
        assert newer.content_hash != api.stored.content_hash
        after = api.post("/v1/customers/alpha/preview", json={"events": [], "mode": "merge"})
        assert after.status_code == 200 and after.json()["catalog_version"] == newer.content_hash
    finally:
        sa.event.remove(engine, "checkout", counted)
