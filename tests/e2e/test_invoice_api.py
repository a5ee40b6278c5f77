"""The invoice routes through FastAPI's TestClient, on SQLite and PostgreSQL: list, show, pay,
void; JSON errors with 4xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from billing.api import dependencies as deps
from billing.api.app import create_app
from billing.runtime.settings import Settings
from billing.services.invoice_run import invoice_customers
from billing.sources.catalog_file import load_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.e2e.openapi_answers import answer_validator, schema_errors

ISSUED = datetime(2026, 4, 2, 1, tzinfo=UTC)
NOW = datetime(2026, 4, 10, 9, 30, tzinfo=UTC)


@pytest.fixture
def api(engine) -> TestClient:
    """acme's INV-000001 (7.00) and INV-000002 (12.00), and a client with an API key."""
    with engine.begin() as connection:
        stored = save_catalog(connection, load_catalog(FIXTURES / "taxed_customer.yaml"), "f", ISSUED)
        key = create_key(connection, "invoices", ISSUED)
    invoice_customers(engine, stored, ["acme"], ISSUED, grace=timedelta(hours=24), due_days=30, now=ISSUED)
    app = create_app(Settings(database_url=engine.url.render_as_string(hide_password=False)), engine)
    app.dependency_overrides[deps.now] = lambda: NOW
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def test_an_invoice_in_json(api: TestClient) -> None:
    answer = api.get("/v1/invoices/INV-000001")
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert (document["number"], document["status"], document["kind"]) == (
        "INV-000001",
        "finalized",
        "invoice",
    )
    assert document["taxes"] == [{"name": "VAT", "rate": "20", "amount": "2.00"}]
    assert (document["subtotal"], document["credits_applied"], document["total"]) == ("10.00", "5.00", "7.00")


def test_a_customers_invoices_and_credit_notes_newest_first(api: TestClient) -> None:
    assert api.post("/v1/invoices/INV-000001/void").status_code == 200
    answer = api.get("/v1/customers/acme/invoices")
    assert answer.status_code == 200, answer.text
    numbers = [(d["number"], d["status"]) for d in answer.json()["invoices"]]
    assert numbers == [("CN-000001", "finalized"), ("INV-000002", "finalized"), ("INV-000001", "void")]


def test_pay_and_pay_again(api: TestClient) -> None:
    first = api.post("/v1/invoices/INV-000002/pay")
    assert first.status_code == 200, first.text
    assert first.json()["changed"] is True
    assert first.json()["invoice"]["status"] == "paid"
    assert first.json()["invoice"]["paid_at"] == "2026-04-10T09:30:00+00:00"
    again = api.post("/v1/invoices/INV-000002/pay")
    assert (again.status_code, again.json()["changed"]) == (200, False)


def test_void_answers_the_credit_note(api: TestClient) -> None:
    answer = api.post("/v1/invoices/INV-000001/void")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["changed"], body["invoice"]["status"]) == (True, "void")
    credit_note = body["credit_note"]
    assert (credit_note["number"], credit_note["corrects"], credit_note["total"]) == (
        "CN-000001",
        "INV-000001",
        "-7.00",
    )
    assert api.get("/v1/invoices/CN-000001").json() == credit_note
    again = api.post("/v1/invoices/INV-000001/void").json()
    assert (again["changed"], again["credit_note"]["number"]) == (False, "CN-000001")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/v1/invoices/INV-000099", 404, "unknown_invoice"),
        ("post", "/v1/invoices/INV-000099/pay", 404, "unknown_invoice"),
        ("post", "/v1/invoices/INV-000099/void", 404, "unknown_invoice"),
        ("get", "/v1/customers/nobody/invoices", 404, "unknown_customer"),
    ],
)
def test_unknown_numbers_and_customers_are_404(
    api: TestClient, method: str, path: str, status: int, code: str
) -> None:
    answer = getattr(api, method)(path)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


def test_a_move_the_state_refuses_is_409(api: TestClient) -> None:
    api.post("/v1/invoices/INV-000001/void")
    answer = api.post("/v1/invoices/INV-000001/pay")
    assert answer.status_code == 409
    assert answer.json() == {
        "error": {
            "code": "invalid_invoice_state",
            "message": "invoice INV-000001 is void: only a finalized invoice can be paid",
        }
    }


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/invoices/INV-000001"),
        ("get", "/v1/customers/acme/invoices"),
        ("post", "/v1/invoices/INV-000001/pay"),
        ("post", "/v1/invoices/INV-000001/void"),
    ],
)
def test_every_invoice_route_needs_a_key(api: TestClient, method: str, path: str) -> None:
    answer = getattr(api, method)(path, headers={"Authorization": ""})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"


def test_invoice_answers_validate_against_the_published_schema(api: TestClient) -> None:
    """Every key of the invoice routes' answers is described in `/openapi.json` and none is
    undescribed (`additionalProperties: false`): the list, one invoice, a pay, a void and its
    credit note."""
    document = api.get("/openapi.json").json()
    one = answer_validator(document, "/v1/invoices/{number}", "get")
    listing = answer_validator(document, "/v1/customers/{customer_id}/invoices", "get")
    change = answer_validator(document, "/v1/invoices/{number}/void", "post")
    paid = answer_validator(document, "/v1/invoices/{number}/pay", "post")
    assert schema_errors(one, api.get("/v1/invoices/INV-000001").json()) == []
    assert schema_errors(paid, api.post("/v1/invoices/INV-000002/pay").json()) == []
    voided = api.post("/v1/invoices/INV-000001/void").json()
    assert voided["credit_note"]["number"].startswith("CN-")
    assert schema_errors(change, voided) == []
    assert schema_errors(one, api.get(f"/v1/invoices/{voided['credit_note']['number']}").json()) == []
    invoices = api.get("/v1/customers/acme/invoices").json()
    assert len(invoices["invoices"]) == 3 and schema_errors(listing, invoices) == []
    assert schema_errors(one, {**invoices["invoices"][0], "surprise": 1}) != []  # the shape is closed
