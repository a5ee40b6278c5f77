"""Migrations carry stored data forward: what a stored line billed keeps its identity."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from billing.store.database import create_engine, upgrade
from tests.conftest import POSTGRES_URL

NOW = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no schema at all, to migrate step by step."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
        yield engine
        engine.dispose()
        return
    request.applymarker(pytest.mark.postgres)
    if not POSTGRES_URL:
        pytest.skip("BILLING_TEST_DATABASE_URL is not set")
    url = sa.engine.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"{url.database}_migrations"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(url.set(database=name).render_as_string(hide_password=False))
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_line_keys_become_typed_columns_and_invoices_keep_their_zone(empty_database: Engine) -> None:
    upgrade(empty_database, "0001")
    with empty_database.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO catalog_versions (id, content_hash, document, source, loaded_at, activated_at) "
                "VALUES (1, 'h', '{}', 'test', :now, :now)"
            ),
            {"now": NOW},
        )
        c.execute(
            sa.text(
                "INSERT INTO customers (id, name, email, timezone, catalog_version_id) "
                "VALUES ('paris', 'Paris', 'p@example.com', 'Europe/Paris', 1)"
            )
        )
        c.execute(
            sa.text(
                "INSERT INTO invoices (id, number, customer_id, status, currency, boundary, issued_at, "
                "issued_on, period_start, period_end, subtotal, credits_applied, total, credits, "
                "fingerprint, catalog_version_id, due_on, finalized_at, updated_at) VALUES "
                "(1, 'INV-000001', 'paris', 'finalized', 'EUR', 1, :now, :day, :now, :now, '12.00', "
                "'0.00', '12.00', '[]', 'f', 1, :day, :now, :now)"
            ),
            {"now": NOW, "day": date(2026, 11, 1)},
        )
        for position, key in enumerate(
            ["2026-01-15/2026-10-15/graduated:api_calls", "2026-01-15/2026-11-15/minimum"]
        ):
            c.execute(
                sa.text(
                    "INSERT INTO invoice_lines (invoice_id, position, key, kind, description, metric, "
                    "quantity, amount, tiers) VALUES (1, :p, :k, 'usage', 'd', NULL, '1', '6.00', '[]')"
                ),
                {"p": position, "k": key},
            )
    upgrade(empty_database, "0002")
    with empty_database.connect() as c:
        rows = c.execute(
            sa.text("SELECT line_contract, line_period, line_charge FROM invoice_lines ORDER BY position")
        ).all()
        zone = c.execute(sa.text("SELECT timezone FROM invoices")).scalar_one()
        columns = {col["name"] for col in sa.inspect(c).get_columns("invoice_lines")}
    as_dates = [(_day(a), _day(b), charge) for a, b, charge in rows]
    assert as_dates == [
        (date(2026, 1, 15), date(2026, 10, 15), "graduated:api_calls"),
        (date(2026, 1, 15), date(2026, 11, 15), "minimum"),
    ]
    assert zone == "Europe/Paris"
    assert "key" not in columns


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


INVOICE_INSERT = (
    "INSERT INTO invoices (id, number, customer_id, status, currency, timezone, boundary, issued_at, "
    "issued_on, period_start, period_end, subtotal, credits_applied, total, credits, fingerprint, "
    "catalog_version_id, due_on, finalized_at, updated_at, kind, corrects{extra}) VALUES "
    "(:id, :number, 'paris', 'finalized', 'EUR', 'UTC', 1, :at, :day, :now, :now, :amount, '0.00', "
    ":amount, '[]', 'f', 1, :day, :now, :now, :kind, :corrects{values})"
)


def _insert_invoice(c: sa.Connection, id: int, number: str, amount: str, corrects: str | None = None,
                    reason: str | None = None) -> None:  # fmt: skip
    extra, values = (", reason", ", :reason") if reason else ("", "")
    c.execute(
        sa.text(INVOICE_INSERT.format(extra=extra, values=values)),
        {
            "id": id, "number": number, "amount": amount, "now": NOW, "at": NOW.replace(minute=id),
            "day": date(2026, 11, 1), "kind": "credit_note" if corrects else "invoice",
            "corrects": corrects, "reason": reason,
        },
    )  # fmt: skip


def test_credit_notes_stored_before_reasons_are_voids_and_one_void_per_invoice_stays(
    empty_database: Engine,
) -> None:
    upgrade(empty_database, "0006")
    with empty_database.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO catalog_versions (id, content_hash, document, source, loaded_at, activated_at) "
                "VALUES (1, 'h', '{}', 'test', :now, :now)"
            ),
            {"now": NOW},
        )
        _insert_invoice(c, 1, "INV-000001", "12.00")
        _insert_invoice(c, 2, "CN-000001", "-12.00", corrects="INV-000001")
        _insert_invoice(c, 3, "INV-000002", "5.00")
    upgrade(empty_database, "head")
    with empty_database.begin() as c:
        reasons = c.execute(sa.text("SELECT number, reason FROM invoices ORDER BY id")).all()
        assert [tuple(r) for r in reasons] == [
            ("INV-000001", None),
            ("CN-000001", "void"),
            ("INV-000002", None),
        ]
        _insert_invoice(c, 4, "CN-000002", "-1.00", corrects="INV-000002", reason="backfill")
        _insert_invoice(c, 5, "CN-000003", "-1.00", corrects="INV-000002", reason="backfill")
        _insert_invoice(c, 6, "CN-000004", "-3.00", corrects="INV-000002", reason="void")
    with pytest.raises(sa.exc.IntegrityError), empty_database.begin() as c:
        _insert_invoice(c, 7, "CN-000005", "-3.00", corrects="INV-000002", reason="void")
    with pytest.raises(sa.exc.DatabaseError, match="never change"), empty_database.begin() as c:
        c.execute(sa.text("UPDATE invoices SET reason = 'backfill' WHERE number = 'CN-000001'"))


def test_old_key_prefixes_lose_their_secret_characters_and_the_keys_keep_working(
    empty_database: Engine,
) -> None:
    from alembic import command

    from billing.store.api_keys import LEGACY_PREFIX, create_key, key_owner, list_keys
    from billing.store.database import alembic_config

    old_key = "bk_" + "S3cr3tAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-"
    upgrade(empty_database, "0011")
    with empty_database.begin() as c:
        c.execute(
            sa.text("INSERT INTO api_keys (name, prefix, key_hash, created_at) VALUES ('old', :p, :h, :now)"),
            {"p": old_key[:10], "h": hashlib.sha256(old_key.encode()).hexdigest(), "now": NOW},
        )
    assert upgrade(empty_database, "head") >= "0013"
    with empty_database.begin() as c:
        new_key = create_key(c, "new", NOW)
        listed = {k.name: k.prefix for k in list_keys(c)}
        assert listed == {"old": LEGACY_PREFIX, "new": new_key[:15]}
        assert not any(old_key[3:10] in prefix for prefix in listed.values())
        assert key_owner(c, old_key) == "old" and key_owner(c, new_key) == "new"
    with empty_database.begin() as c:
        command.downgrade(alembic_config(c), "0011")
    with empty_database.connect() as c:
        prefixes = set(c.execute(sa.text("SELECT prefix FROM api_keys")).scalars())
        assert prefixes == {LEGACY_PREFIX, new_key[:15]}  # nothing to restore, nothing lost
    assert upgrade(empty_database, "head") >= "0013"


def test_rollup_values_gain_an_index_by_value_and_lose_it_on_downgrade(empty_database: Engine) -> None:
    from alembic import command

    from billing.store.database import alembic_config

    def indexes() -> dict[str, list[str | None]]:
        found = sa.inspect(empty_database).get_indexes("usage_rollup_values")
        return {index["name"] or "": index["column_names"] for index in found}

    upgrade(empty_database, "0013")
    assert "ix_usage_rollup_values_by_value" not in indexes()
    upgrade(empty_database, "0014")
    assert indexes()["ix_usage_rollup_values_by_value"] == ["customer_id", "signature", "value", "bucket"]
    with empty_database.begin() as c:
        command.downgrade(alembic_config(c), "0013")
    assert "ix_usage_rollup_values_by_value" not in indexes()
    assert upgrade(empty_database, "head") >= "0014"


def test_rollup_value_spans_are_built_from_the_stored_values_and_dropped_on_downgrade(
    empty_database: Engine,
) -> None:
    from alembic import command

    from billing.store.database import alembic_config

    upgrade(empty_database, "0014")
    at = [datetime(2026, 11, 2, h, tzinfo=UTC) for h in (1, 3, 5)]
    with empty_database.begin() as c:
        c.execute(
            sa.text("INSERT INTO usage_rollup_values VALUES (:c, 'sig', :b, :v)"),
            [
                {"c": "a", "b": at[1], "v": '"u1"'},
                {"c": "a", "b": at[0], "v": '"u1"'},
                {"c": "a", "b": at[2], "v": '"u1"'},
                {"c": "a", "b": at[1], "v": '"u2"'},
                {"c": "b", "b": at[2], "v": '"u1"'},
            ],
        )
    upgrade(empty_database, "0015")
    with empty_database.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT customer_id, value, first_bucket, last_bucket FROM usage_rollup_value_spans "
                "ORDER BY customer_id, value"
            )
        ).all()
    instants = [(c, v, _utc(first), _utc(last)) for c, v, first, last in rows]
    assert instants == [
        ("a", '"u1"', at[0], at[2]),
        ("a", '"u2"', at[1], at[1]),
        ("b", '"u1"', at[2], at[2]),
    ]
    with empty_database.begin() as c:
        command.downgrade(alembic_config(c), "0014")
    assert "usage_rollup_value_spans" not in sa.inspect(empty_database).get_table_names()
    assert upgrade(empty_database, "head") >= "0015"


def _utc(value: object) -> datetime:
    """An instant as read back: a datetime on PostgreSQL, SQLAlchemy's text on SQLite."""
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def test_rollup_days_are_built_from_the_stored_buckets_and_dropped_on_downgrade(
    empty_database: Engine,
) -> None:
    from alembic import command

    from billing.store.database import alembic_config

    upgrade(empty_database, "0015")
    day = datetime(2026, 11, 2, tzinfo=UTC)
    buckets = [day.replace(hour=h) for h in (0, 9, 23)]
    sqlite = empty_database.dialect.name == "sqlite"
    with empty_database.begin() as c:
        c.execute(
            sa.text("INSERT INTO rollup_signatures VALUES (:s, :d, 9, :at)"),
            [
                {"s": "sum", "d": '{"aggregation":"sum"}', "at": day},
                {"s": "latest", "d": '{"aggregation":"latest"}', "at": day},
            ],
        )
        rows = [("sum", b, n, str(n * 10) + ".5", None, None) for n, b in enumerate(buckets, 1)]
        rows += [
            ("latest", buckets[0], 1, "7", buckets[0], "z"),
            ("latest", buckets[1], 2, "8", buckets[1], "a"),
        ]
        rows.append(("latest", day.replace(day=3), 1, "9", day.replace(day=3), "b"))  # the next day
        c.execute(
            sa.text("INSERT INTO usage_rollups VALUES ('c', :s, :b, :n, :v, :at, :id)"),
            [
                {"s": s, "b": _text(b, sqlite), "n": n, "v": v, "at": _text(at, sqlite), "id": i}
                for s, b, n, v, at, i in rows
            ],
        )
    upgrade(empty_database, "0017")
    with empty_database.connect() as c:
        found = c.execute(
            sa.text(
                "SELECT signature, day, events, value, latest_at, latest_id FROM usage_rollup_days "
                "ORDER BY signature, day"
            )
        ).all()
    days = [(s, _utc(d), n, Decimal(v), at and _utc(at), i) for s, d, n, v, at, i in found]
    assert days == [
        ("latest", day, 3, Decimal(8), buckets[1], "a"),
        ("latest", day.replace(day=3), 1, Decimal(9), day.replace(day=3), "b"),
        ("sum", day, 6, Decimal("61.5"), None, None),
    ]
    with empty_database.begin() as c:
        command.downgrade(alembic_config(c), "0016")
    assert "usage_rollup_days" not in sa.inspect(empty_database).get_table_names()
    assert upgrade(empty_database, "head") >= "0017"


def _text(instant: datetime | None, sqlite: bool) -> object:
    """An instant as the ORM stores it: fixed-width UTC text on SQLite."""
    if instant is None or not sqlite:
        return instant
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f")


def test_rollup_day_values_are_built_from_the_stored_values_kept_by_the_trigger_and_dropped_on_downgrade(
    empty_database: Engine,
) -> None:
    from alembic import command

    from billing.store.database import alembic_config

    upgrade(empty_database, "0017")
    sqlite = empty_database.dialect.name == "sqlite"
    at = [datetime(2026, 11, 2, h, tzinfo=UTC) for h in (1, 5, 23)] + [datetime(2026, 11, 3, 2, tzinfo=UTC)]
    insert = sa.text("INSERT INTO usage_rollup_values VALUES ('a', 'sig', :b, :v)")
    with empty_database.begin() as c:
        c.execute(
            insert, [{"b": _text(at[1], sqlite), "v": '"u1"'}, {"b": _text(at[3], sqlite), "v": '"u1"'}]
        )
    upgrade(empty_database, "0018")
    with empty_database.begin() as c:  # the trigger widens a day's row and adds a new one
        c.execute(
            insert, [{"b": _text(at[0], sqlite), "v": '"u1"'}, {"b": _text(at[2], sqlite), "v": '"u2"'}]
        )
        c.execute(insert, [{"b": _text(at[2], sqlite), "v": '"u1"'}])
    with empty_database.connect() as c:
        rows = c.execute(
            sa.text(
                "SELECT day, value, first_bucket, last_bucket FROM usage_rollup_day_values "
                "ORDER BY day, value"
            )
        ).all()
    day = at[0].replace(hour=0)
    assert [(_utc(d), v, _utc(first), _utc(last)) for d, v, first, last in rows] == [
        (day, '"u1"', at[0], at[2]),
        (day, '"u2"', at[2], at[2]),
        (day.replace(day=3), '"u1"', at[3], at[3]),
    ]
    with empty_database.begin() as c:
        command.downgrade(alembic_config(c), "0017")
    assert "usage_rollup_day_values" not in sa.inspect(empty_database).get_table_names()
    with empty_database.begin() as c:  # no trigger is left behind
        c.execute(insert, [{"b": _text(at[1], sqlite), "v": '"u3"'}])
    assert upgrade(empty_database, "head") >= "0018"
