"""Paying and voiding invoices, and the credit notes voids issue (SPEC §8a), on SQLite and
PostgreSQL: states move forward once, a credit note reverses its invoice whole (lines, taxes,
credits), gives the credits back, is numbered gap-free and is as immutable as an invoice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.core.errors import InvoiceStateError, UnknownInvoice
from billing.notify.backends import EmailMessage
from billing.notify.rendering import render_email
from billing.services import invoice_states
from billing.services.email_delivery import EmailChannel
from billing.services.invoice_documents import document_pdf
from billing.services.invoice_run import invoice_customers
from billing.services.notification_delivery import deliver_all
from billing.store import invoice_records as records
from billing.store.catalog_versions import StoredCatalog, active_catalog, save_catalog
from billing.store.invoice_records import load_invoices
from billing.store.models import Counter, InvoiceRow, Notification

GRACE = timedelta(hours=24)


class RecordingBackend:
    """An email backend that keeps what it is given."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> str:
        self.sent.append(message)
        return f"recorded:{len(self.sent)}"


VOIDED_AT = datetime(2026, 4, 10, 9, 30, tzinfo=UTC)
CATALOG_SOURCE = {
    "currency": "USD",
    "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
    "plans": [
        {
            "code": "std",
            "interval": "monthly",
            "charges": [
                {"model": "flat", "amount": "10.00"},
                {"metric": "calls", "model": "per_unit", "unit_price": "1.00"},
            ],
        }
    ],
    "customers": [
        {
            "id": "acme",
            "name": "Acme",
            "email": "a@acme.example",
            "tax_rates": [{"name": "VAT", "rate": "20"}],
            "contracts": [
                {
                    "plan": "std",
                    "starts_on": "2026-03-01",
                    "credits": [{"amount": "5.00", "granted_on": "2026-03-01"}],
                }
            ],
        }
    ],
}
CATALOG = parse_catalog(CATALOG_SOURCE)


def _stored(engine: sa.Engine) -> StoredCatalog:
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 3, 1, tzinfo=UTC))
    with engine.connect() as connection:
        return active_catalog(connection)


def _run(engine: sa.Engine, stored: StoredCatalog, as_of: datetime):
    return invoice_customers(engine, stored, ["acme"], as_of, grace=GRACE, due_days=30, now=as_of)


@pytest.fixture
def issued(engine: sa.Engine) -> sa.Engine:
    """INV-000001 (March in advance: 10.00 + VAT 2.00 - credit 5.00 = 7.00) and INV-000002
    (April in advance: 10.00 + VAT 2.00 = 12.00, the credit used up)."""
    report = _run(engine, _stored(engine), datetime(2026, 4, 2, 1, tzinfo=UTC))
    assert [(o.number, o.total) for o in report.finalized] == [
        ("INV-000001", Decimal("7.00")),
        ("INV-000002", Decimal("12.00")),
    ]
    return engine


def _load(engine: sa.Engine, number: str):
    with Session(engine) as session:
        (found,) = load_invoices(session, number=number)
    return found


def _execute(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.begin() as connection:
        return connection.execute(sa.text(sql), params).rowcount


def test_taxes_are_stored_and_loaded_with_the_invoice(issued: sa.Engine) -> None:
    invoice = _load(issued, "INV-000001")
    ((name, rate, amount),) = [(t.name, t.rate, t.amount) for t in invoice.taxes]
    assert (name, rate, amount) == ("VAT", Decimal("20"), Decimal("2.00"))
    assert (invoice.subtotal, invoice.credits_applied, invoice.total) == (
        Decimal("10.00"),
        Decimal("5.00"),
        Decimal("7.00"),
    )


def test_a_void_issues_a_credit_note_reversing_the_whole_invoice(issued: sa.Engine) -> None:
    outcome = invoice_states.void(issued, "INV-000001", VOIDED_AT)
    assert outcome.changed
    invoice, credit_note = _load(issued, "INV-000001"), _load(issued, "CN-000001")
    assert (invoice.status, invoice.voided_at) == ("void", VOIDED_AT)
    assert (credit_note.kind, credit_note.status, credit_note.corrects) == (
        "credit_note",
        "finalized",
        "INV-000001",
    )
    assert [line.amount for line in credit_note.lines] == [-line.amount for line in invoice.lines]
    assert [line.key for line in credit_note.lines] == [line.key for line in invoice.lines]
    assert [(t.name, t.amount) for t in credit_note.taxes] == [("VAT", Decimal("-2.00"))]
    assert (credit_note.subtotal, credit_note.credits_applied, credit_note.total) == (
        Decimal("-10.00"),
        Decimal("-5.00"),
        Decimal("-7.00"),
    )
    # a whole second may be a coming boundary's (its invoice's instant): the next microsecond
    assert credit_note.issued_at == VOIDED_AT + timedelta(microseconds=1)
    assert (credit_note.period_start, credit_note.period_end) == (invoice.period_start, invoice.period_end)


def test_a_void_gives_the_credits_back_and_its_period_is_not_billed_again(issued: sa.Engine) -> None:
    stored = _stored(issued)
    invoice_states.void(issued, "INV-000001", VOIDED_AT)
    with issued.connect() as connection:
        state = records.billing_states(connection, ["acme"])["acme"]
    assert set(state.credits_used.values()) == {Decimal("0.00")}
    assert state.last_finalized == 1
    (may,) = _run(issued, stored, datetime(2026, 5, 2, 1, tzinfo=UTC)).finalized
    invoice = _load(issued, may.number)
    # April's usage and May in advance: March's fee, reversed, is not billed again; the
    # credit serves May
    assert [(line.start, line.amount) for line in invoice.lines] == [
        (datetime(2026, 4, 1, tzinfo=UTC), Decimal("0.00")),
        (datetime(2026, 5, 1, tzinfo=UTC), Decimal("10.00")),
    ]
    assert (invoice.subtotal, invoice.credits_applied, invoice.total) == (
        Decimal("10.00"),
        Decimal("5.00"),
        Decimal("7.00"),
    )


def test_the_credit_note_email_is_queued_with_it(issued: sa.Engine) -> None:
    invoice_states.void(issued, "INV-000001", VOIDED_AT)
    with Session(issued) as session:
        (row,) = session.scalars(sa.select(Notification).where(Notification.kind == "credit_note_issued"))
    assert (row.subject, row.recipient, row.status) == ("CN-000001", "a@acme.example", "pending")
    email = render_email(row.kind, row.context)
    assert email.subject == "Credit note CN-000001 for invoice INV-000001: -7.00 USD"
    assert "VAT (20%): -2.00 USD" in email.text
    assert "Prepaid credits given back: 5.00 USD" in email.text
    assert "CN-000001" in email.html


def test_the_credit_note_email_waits_for_its_pdf_and_carries_it(issued: sa.Engine) -> None:
    outbox = RecordingBackend()
    invoice_states.void(issued, "INV-000001", VOIDED_AT)
    deliver_all(issued, [EmailChannel(outbox, "billing@vendor.example")], lambda: VOIDED_AT)
    assert not [m for m in outbox.sent if m.key.startswith("credit_note_issued/")]  # no PDF yet
    pdf = document_pdf(issued, "CN-000001", VOIDED_AT)
    deliver_all(
        issued, [EmailChannel(outbox, "billing@vendor.example")], lambda: VOIDED_AT + timedelta(minutes=1)
    )
    (sent,) = [m for m in outbox.sent if m.key.startswith("credit_note_issued/")]
    assert [(a.filename, a.mime_type, a.content) for a in sent.attachments] == [
        ("CN-000001.pdf", "application/pdf", pdf)
    ]


def test_a_void_for_a_customer_gone_from_the_catalog_says_it_emails_no_one(issued: sa.Engine) -> None:
    with issued.begin() as connection:  # the customer left: a catalog without it is loaded
        save_catalog(connection, parse_catalog({**CATALOG_SOURCE, "customers": []}), "test", VOIDED_AT)
    outcome = invoice_states.void(issued, "INV-000001", VOIDED_AT)
    assert outcome.credit_note is not None and outcome.credit_note.number == "CN-000001"
    assert outcome.unmailed == "customer 'acme' is no longer in the catalog: no address to email"
    assert outcome.as_dict()["warning"] == outcome.unmailed
    with Session(issued) as session:
        queued = session.scalars(sa.select(Notification).where(Notification.kind == "credit_note_issued"))
        assert not list(queued)


def test_pay_moves_finalized_to_paid_once(issued: sa.Engine) -> None:
    paid_at = VOIDED_AT
    first = invoice_states.pay(issued, "INV-000002", paid_at)
    again = invoice_states.pay(issued, "INV-000002", paid_at + timedelta(days=1))
    assert (first.changed, again.changed) == (True, False)
    invoice = _load(issued, "INV-000002")
    assert (invoice.status, invoice.paid_at) == ("paid", paid_at)


@pytest.mark.parametrize(
    ("first", "then", "number", "message"),
    [
        ("pay", "void", "INV-000001", "invoice INV-000001 is paid: only a finalized invoice can be voided"),
        ("void", "pay", "INV-000001", "invoice INV-000001 is void: only a finalized invoice can be paid"),
        ("void", "void", "CN-000001", "CN-000001 is a credit note: it cannot be voided"),
        ("void", "pay", "CN-000001", "CN-000001 is a credit note: it cannot be paid"),
    ],
)
def test_a_move_the_state_does_not_allow_is_refused(
    issued: sa.Engine, first: str, then: str, number: str, message: str
) -> None:
    getattr(invoice_states, first)(issued, "INV-000001", VOIDED_AT)
    with pytest.raises(InvoiceStateError) as refused:
        getattr(invoice_states, then)(issued, number, VOIDED_AT)
    assert str(refused.value) == message


def test_an_unknown_number_is_refused(issued: sa.Engine) -> None:
    for action in (invoice_states.pay, invoice_states.void):
        with pytest.raises(UnknownInvoice, match="no invoice numbered 'INV-000099'"):
            action(issued, "INV-000099", VOIDED_AT)


def test_voiding_again_names_the_credit_note_and_issues_none(issued: sa.Engine) -> None:
    invoice_states.void(issued, "INV-000001", VOIDED_AT)
    again = invoice_states.void(issued, "INV-000001", VOIDED_AT + timedelta(hours=1))
    assert not again.changed
    assert again.credit_note is not None and again.credit_note.number == "CN-000001"
    with issued.connect() as connection:
        counters = dict(connection.execute(sa.select(Counter.name, Counter.value)).all())
    assert counters == {"invoice": 2, "credit_note": 1}


def test_credit_notes_are_numbered_in_their_own_sequence(issued: sa.Engine) -> None:
    for number in ("INV-000001", "INV-000002"):
        invoice_states.void(issued, number, VOIDED_AT)  # the same instant: kept apart by a microsecond
    assert _load(issued, "CN-000002").corrects == "INV-000002"
    assert _load(issued, "CN-000002").issued_at == VOIDED_AT + timedelta(microseconds=2)


# -- below the ORM -------------------------------------------------------------------------------


def _id(engine: sa.Engine, number: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(InvoiceRow.id).where(InvoiceRow.number == number))


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE invoices SET taxes = '[]' WHERE id = :id", id="taxes"),
        pytest.param("UPDATE invoices SET kind = 'credit_note' WHERE id = :id", id="kind"),
        pytest.param("UPDATE invoices SET corrects = 'INV-000002' WHERE id = :id", id="corrects"),
        pytest.param("UPDATE invoices SET paid_at = updated_at WHERE id = :id", id="paid-at-alone"),
        pytest.param(
            "UPDATE invoices SET status = 'paid', paid_at = updated_at, taxes = '[]' WHERE id = :id",
            id="paid-with-a-change",
        ),
    ],
)
def test_plain_sql_cannot_change_the_new_columns_of_a_finalized_invoice(
    issued: sa.Engine, statement: str
) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="finalized invoice"):
        _execute(issued, statement, id=_id(issued, "INV-000001"))


def test_plain_sql_moves_the_status_with_its_date_once(issued: sa.Engine) -> None:
    invoice_id = _id(issued, "INV-000001")
    sql = "UPDATE invoices SET status = 'paid', paid_at = updated_at WHERE id = :id"
    assert _execute(issued, sql, id=invoice_id) == 1
    with pytest.raises(sa.exc.IntegrityError, match="finalized invoice never changes"):
        _execute(issued, "UPDATE invoices SET paid_at = NULL WHERE id = :id", id=invoice_id)


def test_a_credit_note_is_as_immutable_as_an_invoice(issued: sa.Engine) -> None:
    invoice_states.void(issued, "INV-000001", VOIDED_AT)
    credit_note = _id(issued, "CN-000001")
    for statement in (
        "UPDATE invoices SET total = 0 WHERE id = :id",
        "DELETE FROM invoices WHERE id = :id",
        "UPDATE invoice_lines SET amount = 0 WHERE invoice_id = :id",
    ):
        with pytest.raises(sa.exc.IntegrityError, match="finalized invoice"):
            _execute(issued, statement, id=credit_note)


def test_the_database_refuses_a_tax_beyond_minor_units_and_an_unlinked_credit_note(issued: sa.Engine) -> None:
    invoice_id = _id(issued, "INV-000001")
    copy = (
        "INSERT INTO invoices (customer_id, status, currency, timezone, boundary, issued_at, issued_on,"
        " period_start, period_end, subtotal, credits_applied, total, credits, fingerprint,"
        " catalog_version_id, updated_at, taxes, kind)"
        " SELECT customer_id, 'draft', currency, timezone, boundary, :at, issued_on, period_start,"
        " period_end, subtotal, credits_applied, total, credits, fingerprint, catalog_version_id,"
        " updated_at, :taxes, :kind FROM invoices WHERE id = :id"
    )
    at = datetime(2027, 1, 1, tzinfo=UTC)
    with pytest.raises(sa.exc.IntegrityError, match="more digits than the minor units"):
        _execute(issued, copy, id=invoice_id, at=at, taxes='[["VAT", "20", "2.005"]]', kind="invoice")
    with pytest.raises(sa.exc.IntegrityError, match="names the invoice it corrects"):
        _execute(issued, copy, id=invoice_id, at=at, taxes="[]", kind="credit_note")
    assert _execute(issued, copy, id=invoice_id, at=at, taxes='[["VAT", "20", "2.00"]]', kind="invoice") == 1


@pytest.mark.postgres
def test_two_racing_voids_issue_one_credit_note(issued: sa.Engine) -> None:
    if issued.dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: there is no race to run")
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []
    errors: list[BaseException] = []

    def void() -> None:
        try:
            barrier.wait()
            outcomes.append(invoice_states.void(issued, "INV-000001", VOIDED_AT).changed)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=void) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(outcomes) == [False, True]
    with issued.connect() as connection:
        notes = connection.scalars(sa.select(InvoiceRow.number).where(InvoiceRow.kind == "credit_note")).all()
        counter = connection.scalar(sa.select(Counter.value).where(Counter.name == "credit_note"))
    assert (notes, counter) == (["CN-000001"], 1)
