"""Finalized invoices below the ORM (SPEC §8a), on SQLite and PostgreSQL: plain SQL cannot change
or delete them or their lines, only the status moves forward; stored amounts are at minor units;
an invoice gone missing behind the store's back stops the next run instead of being re-issued."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import iso4217
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.core.catalog import parse_catalog
from billing.core.errors import MoneyError
from billing.core.invoicing import InvoiceDraft
from billing.core.line_keys import LineKey
from billing.core.money import Currency
from billing.core.rating import InvoiceLine
from billing.services.invoice_run import invoice_customers
from billing.store import invoice_records as records
from billing.store.catalog_versions import StoredCatalog, active_catalog, save_catalog
from billing.store.invoice_records import InvoiceMissing, load_invoices
from billing.store.migrations import versions
from billing.store.models import Counter, InvoiceLineRow, InvoiceRow, Notification

GRACE = timedelta(hours=24)
CATALOG = parse_catalog(
    {
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
                "email": "a@acme.example",
                "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
            }
        ],
    }
)


def _stored(engine: sa.Engine) -> StoredCatalog:
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", datetime(2026, 3, 1, tzinfo=UTC))
    with engine.connect() as connection:
        return active_catalog(connection)


def _run(engine: sa.Engine, stored: StoredCatalog, as_of: datetime, dry_run: bool = False):
    return invoice_customers(
        engine, stored, ["acme"], as_of, grace=GRACE, due_days=30, now=as_of, dry_run=dry_run
    )


@pytest.fixture
def finalized(engine: sa.Engine) -> sa.Engine:
    """INV-000001 (March in advance) and INV-000002 (March's usage, April in advance)."""
    report = _run(engine, _stored(engine), datetime(2026, 4, 2, 1, tzinfo=UTC))
    assert [o.number for o in report.finalized] == ["INV-000001", "INV-000002"]
    return engine


def _invoice_id(engine: sa.Engine, number: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(sa.select(InvoiceRow.id).where(InvoiceRow.number == number))


def _execute(engine: sa.Engine, sql: str, **params: object) -> int:
    with engine.begin() as connection:
        return connection.execute(sa.text(sql), params).rowcount


def _snapshot(engine: sa.Engine) -> tuple[object, ...]:
    with engine.connect() as connection:
        invoices = connection.execute(sa.select(InvoiceRow).order_by(InvoiceRow.id)).all()
        lines = connection.execute(sa.select(InvoiceLineRow).order_by(InvoiceLineRow.id)).all()
        counter = connection.scalar(sa.select(Counter.value))
    return tuple(invoices), tuple(lines), counter


@contextmanager
def triggers_off(connection: sa.Connection) -> Iterator[None]:
    """What an operator can still do: run SQL with the triggers out of the way."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        yield
        return
    saved = connection.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")).all()
    for name, _ in saved:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in saved:
        connection.exec_driver_sql(sql)


# -- a finalized invoice and its lines never change ---------------------------------------------

REFUSED = [
    pytest.param("UPDATE invoices SET total = 1.00 WHERE id = :id", id="total"),
    pytest.param("UPDATE invoices SET subtotal = subtotal, total = 0 WHERE id = :id", id="total-to-zero"),
    pytest.param("UPDATE invoices SET number = 'INV-000099' WHERE id = :id", id="number"),
    pytest.param("UPDATE invoices SET status = 'draft' WHERE id = :id", id="status-back-to-draft"),
    pytest.param("UPDATE invoices SET status = 'paid', total = 0 WHERE id = :id", id="paid-with-a-change"),
    pytest.param("UPDATE invoices SET due_on = NULL WHERE id = :id", id="due-date"),
    pytest.param("UPDATE invoices SET updated_at = updated_at WHERE id = :id", id="no-op-update"),
    pytest.param("DELETE FROM invoices WHERE id = :id", id="delete"),
    pytest.param("UPDATE invoice_lines SET amount = 0.01 WHERE invoice_id = :id", id="line-amount"),
    pytest.param("UPDATE invoice_lines SET description = 'x' WHERE invoice_id = :id", id="line-text"),
    pytest.param("DELETE FROM invoice_lines WHERE invoice_id = :id", id="line-delete"),
    pytest.param(
        "INSERT INTO invoice_lines (invoice_id, position, line_charge, kind, description, quantity, amount,"
        " tiers) VALUES (:id, 9, 'extra', 'flat', 'Extra', '1', '5.00', '[]')",
        id="line-insert",
    ),
]


@pytest.mark.parametrize("statement", REFUSED)
def test_plain_sql_cannot_change_a_finalized_invoice_or_its_lines(
    finalized: sa.Engine, statement: str
) -> None:
    before = _snapshot(finalized)
    invoice_id = _invoice_id(finalized, "INV-000002")
    with pytest.raises(sa.exc.IntegrityError, match="finalized invoice"):
        _execute(finalized, statement, id=invoice_id)
    assert _snapshot(finalized) == before
    with Session(finalized) as session:  # `billing invoices show` prints what was issued
        (shown,) = load_invoices(session, number="INV-000002")
    assert (shown.status, shown.total) == ("finalized", Decimal("10.00"))


@pytest.mark.parametrize(
    "statement",
    [
        "TRUNCATE invoice_lines CASCADE",
        "TRUNCATE invoices CASCADE",
        "TRUNCATE counters",
        "TRUNCATE events CASCADE",
    ],
)
def test_plain_sql_cannot_truncate_what_was_billed(finalized: sa.Engine, statement: str) -> None:
    if finalized.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE fires the row triggers)")
    before = _snapshot(finalized)
    with pytest.raises(sa.exc.IntegrityError, match="TRUNCATE would remove finalized invoices"):
        _execute(finalized, statement)
    assert _snapshot(finalized) == before


@pytest.mark.parametrize("forward", ["paid", "void"])
def test_the_status_moves_forward_once_and_never_back(finalized: sa.Engine, forward: str) -> None:
    invoice_id = _invoice_id(finalized, "INV-000001")
    moved = _execute(
        finalized,
        "UPDATE invoices SET status = :status, updated_at = finalized_at WHERE id = :id",
        status=forward,
        id=invoice_id,
    )
    assert moved == 1
    for other in ("finalized", "draft", "void" if forward == "paid" else "paid"):
        with pytest.raises(sa.exc.IntegrityError, match="finalized invoice never changes"):
            _execute(
                finalized, "UPDATE invoices SET status = :status WHERE id = :id", status=other, id=invoice_id
            )
    with pytest.raises(sa.exc.IntegrityError, match="never deleted"):
        _execute(finalized, "DELETE FROM invoices WHERE id = :id", id=invoice_id)
    with Session(finalized) as session:
        assert load_invoices(session, number="INV-000001")[0].status == forward


def test_a_draft_is_still_rewritten_and_deleted(engine: sa.Engine) -> None:
    stored = _stored(engine)
    report = _run(engine, stored, datetime(2026, 4, 1, 12, tzinfo=UTC))  # April's in its grace
    (draft,) = report.drafts
    assert _execute(engine, "UPDATE invoices SET total = 11.50 WHERE id = :id", id=draft.invoice_id) == 1
    assert _execute(
        engine, "UPDATE invoice_lines SET amount = 1.50 WHERE invoice_id = :id", id=draft.invoice_id
    )
    assert _execute(engine, "DELETE FROM invoice_lines WHERE invoice_id = :id", id=draft.invoice_id)
    assert _execute(engine, "DELETE FROM invoices WHERE id = :id", id=draft.invoice_id) == 1
    # and the next run drafts it again, then finalizes it in one statement
    report = _run(engine, stored, datetime(2026, 4, 2, 1, tzinfo=UTC))
    assert [(o.status, o.number, o.total) for o in report.outcomes] == [
        ("finalized", "INV-000002", Decimal("10.00"))
    ]


def test_a_draft_is_finalized_with_its_number_in_one_statement(engine: sa.Engine) -> None:
    (draft,) = _run(engine, _stored(engine), datetime(2026, 4, 1, 12, tzinfo=UTC)).drafts
    # the old two-step way: status first, number after
    with pytest.raises(sa.exc.IntegrityError, match="numbered and dated"):
        _execute(
            engine,
            "UPDATE invoices SET status = 'finalized', finalized_at = updated_at WHERE id = :id",
            id=draft.invoice_id,
        )
    with pytest.raises(sa.exc.IntegrityError, match="status is one of"):
        _execute(engine, "UPDATE invoices SET status = 'sent' WHERE id = :id", id=draft.invoice_id)


def test_the_invoice_counter_never_moves_back(finalized: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError, match="never reused"):
        _execute(finalized, "UPDATE counters SET value = value - 1 WHERE name = 'invoice'")
    with pytest.raises(sa.exc.IntegrityError, match="never reused"):
        _execute(finalized, "DELETE FROM counters")
    assert _execute(finalized, "UPDATE counters SET value = value WHERE name = 'invoice'") == 1


# -- stored amounts are at minor units ------------------------------------------------------------


def test_the_database_refuses_an_unrounded_amount(engine: sa.Engine) -> None:
    (draft,) = _run(engine, _stored(engine), datetime(2026, 4, 1, 12, tzinfo=UTC)).drafts
    with pytest.raises(sa.exc.IntegrityError, match="minor units"):
        _execute(engine, "UPDATE invoices SET total = '6.665' WHERE id = :id", id=draft.invoice_id)
    with pytest.raises(sa.exc.IntegrityError, match="minor units"):
        _execute(
            engine, "UPDATE invoice_lines SET amount = '3.335' WHERE invoice_id = :id", id=draft.invoice_id
        )
    assert _execute(engine, "UPDATE invoices SET total = '6.670' WHERE id = :id", id=draft.invoice_id) == 1


def _draft(*, credit: str = "0.00", line: str = "10.00", tier: str | None = None) -> InvoiceDraft:
    from billing.core.pricing.base import TierAmount

    at = datetime(2026, 4, 1, tzinfo=UTC)
    tiers = () if tier is None else (TierAmount(Decimal(1), Decimal(line), Decimal(0), Decimal(tier)),)
    return InvoiceDraft(
        customer_id="acme",
        currency=Currency.of("USD"),
        boundary=1,
        issued_at=at,
        issued_on=at.date(),
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=at,
        lines=(
            InvoiceLine(
                LineKey(None, None, "flat"), "flat", "Fee", None, Decimal(1), Decimal(line), tiers=tiers
            ),
        ),
        credits=(("grant", Decimal(credit)),),
        fingerprint="f" * 32,
    )


@pytest.mark.parametrize(
    ("draft", "what"),
    [
        pytest.param(_draft(credit="3.335"), "credit grant 3.335", id="credit"),
        pytest.param(_draft(line="10.005"), "line quote/flat 10.005", id="line"),
        pytest.param(_draft(tier="10.004"), "a tier of line quote/flat 10.004", id="tier"),
    ],
)
def test_the_store_refuses_an_unrounded_amount(engine: sa.Engine, draft: InvoiceDraft, what: str) -> None:
    stored = _stored(engine)
    with engine.begin() as connection, pytest.raises(MoneyError, match=f"{what} is not at USD's 2 minor"):
        records.write_invoice(connection, draft, stored.id, draft.issued_at, None)
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(InvoiceRow)) == 0
    with engine.begin() as connection:  # the same invoice, rounded, is stored
        records.write_invoice(connection, _draft(credit="3.34"), stored.id, draft.issued_at, None)


def test_the_frozen_minor_units_are_iso_4217s() -> None:
    path = Path(versions.__path__[0]) / "0003_immutable_invoices.py"
    spec = importlib.util.spec_from_file_location("migration_0003", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for currency in iso4217.Currency:
        if currency.exponent is not None:
            assert migration._digits(currency.code) == Currency.of(currency.code).minor_units, currency.code


# -- an invoice missing from the store is reported, never re-issued or re-emailed -----------------


def _emails(engine: sa.Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(sa.select(Notification.subject).order_by(Notification.id)))


def test_a_deleted_invoice_stops_the_run_and_is_never_issued_again(finalized: sa.Engine) -> None:
    stored = _stored(finalized)
    assert _emails(finalized) == ["INV-000001", "INV-000002"]
    with finalized.begin() as connection, triggers_off(connection):
        connection.execute(sa.delete(InvoiceRow).where(InvoiceRow.number == "INV-000002"))
    before = _snapshot(finalized)
    for dry_run in (True, False):
        with pytest.raises(InvoiceMissing) as missing:
            _run(finalized, stored, datetime(2026, 5, 2, 1, tzinfo=UTC), dry_run=dry_run)
        assert str(missing.value) == (
            "invoice INV-000002 is missing from the store: restore it from a backup; nothing was invoiced"
        )
    assert _snapshot(finalized) == before  # no new number, no draft
    assert _emails(finalized) == ["INV-000001", "INV-000002"]  # no second email


def test_a_deletion_that_also_rewound_the_counter_is_found_in_the_send_ledger(finalized: sa.Engine) -> None:
    stored = _stored(finalized)
    with finalized.begin() as connection, triggers_off(connection):
        connection.execute(sa.delete(InvoiceRow).where(InvoiceRow.number.in_(["INV-000001", "INV-000002"])))
        connection.execute(sa.update(Counter).values(value=0))
    with pytest.raises(InvoiceMissing, match="invoices INV-000001, INV-000002 are missing from the store"):
        _run(finalized, stored, datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert _emails(finalized) == ["INV-000001", "INV-000002"]


def test_nothing_missing_lets_the_run_go_on(finalized: sa.Engine) -> None:
    with finalized.connect() as connection:
        assert records.missing_invoice_numbers(connection, ["acme"]) == []
    report = _run(finalized, _stored(finalized), datetime(2026, 5, 2, 1, tzinfo=UTC))
    assert [o.number for o in report.finalized] == ["INV-000003"]


# -- the migration -------------------------------------------------------------------------------


def test_migration_0003_rounds_stored_tiers_and_its_downgrade_drops_the_triggers(tmp_path: Path) -> None:
    from billing.store.database import alembic_config, create_engine, upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    assert upgrade(engine, "0002") == "0002"
    at = "2026-04-01 00:00:00.000000"
    tiers = '[{"quantity": 1, "unit_price": 0.333, "flat_fee": 0, "amount": 0.333, "bounded": true},'
    tiers += ' {"quantity": 1, "unit_price": 0.333, "flat_fee": 0, "amount": 0.333, "bounded": false}]'
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO catalog_versions (id, content_hash, document, source, loaded_at, activated_at)"
                " VALUES (1, 'h', '{}', 's', :at, :at)"
            ),
            {"at": at},
        )
        columns = (
            "id, number, customer_id, status, currency, timezone, boundary, issued_at, issued_on,"
            " period_start, period_end, subtotal, credits_applied, total, credits, fingerprint,"
            " catalog_version_id, due_on, finalized_at, updated_at"
        )
        values = (
            "1, 'INV-000001', 'acme', 'finalized', 'USD', 'UTC', 1, :at, '2026-04-01', :at, :at,"
            " '0.67', '0.00', '0.67', '[]', 'f', 1, '2026-05-01', :at, :at"
        )
        connection.execute(sa.text(f"INSERT INTO invoices ({columns}) VALUES ({values})"), {"at": at})
        connection.execute(
            sa.text(
                "INSERT INTO invoice_lines (invoice_id, position, line_charge, kind, description, quantity,"
                " amount, tiers) VALUES (1, 0, 'graduated:calls', 'usage', 'Calls', '2', '0.67', :tiers)"
            ),
            {"tiers": tiers},
        )
    assert upgrade(engine) != "0002"
    with Session(engine) as session:
        (invoice,) = load_invoices(session)
    # each tier its share of the rounded line: 0.33 (0.333 rounded), then 0.67 - 0.33
    assert [t.amount for t in invoice.lines[0].tiers] == [Decimal("0.33"), Decimal("0.34")]
    with pytest.raises(sa.exc.IntegrityError):
        _execute(engine, "UPDATE invoices SET total = 0 WHERE id = 1")

    from alembic import command

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")
    assert _execute(engine, "UPDATE invoices SET total = 0 WHERE id = 1") == 1
    with engine.connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'")) == 0
    engine.dispose()
