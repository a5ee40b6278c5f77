"""Spend alerts and forecasts from stored usage, and low credits from finalized invoices,
queued once in the send ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.services.invoice_run import invoice_customers
from billing.services.spend_alerts import evaluate_credits, evaluate_spend, evaluate_spend_since_last
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import active_catalog, save_catalog
from billing.store.models import Notification, NotificationDelivery, SpendEvaluation

MARCH = datetime(2026, 3, 1, tzinfo=UTC)


def catalog(timezone: str = "UTC", credits: list[dict] | None = None):
    """Calls at $1 each; alerts at $500 and $1000; periods from Mar 1 local."""
    contract = {"plan": "std", "starts_on": "2026-03-01", "credits": credits or []}
    customers = [
        {
            "id": cid,
            "email": f"{cid}@example.com",
            "timezone": timezone,
            "spend_alerts": ["500.00", "1000.00"],
            "contracts": [contract],
        }
        for cid in ("acme", "quiet")
    ]
    return parse_catalog(
        {
            "currency": "USD",
            "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
            "plans": [
                {
                    "code": "std",
                    "name": "Standard",
                    "interval": "monthly",
                    "charges": [{"metric": "calls", "model": "per_unit", "unit_price": "1.00"}],
                }
            ],
            "customers": customers,
        },
        "test",
    )


def setup(engine, timezone: str = "UTC", credits: list[dict] | None = None):
    with engine.begin() as connection:
        save_catalog(connection, catalog(timezone, credits), "test", MARCH)
    with engine.connect() as connection:
        return active_catalog(connection)


def ingest(engine, suite, stored, prefix: str, count: int, at: datetime, customer: str = "acme"):
    records = [
        RawRecord(
            n,
            json.dumps(
                {
                    "transaction_id": f"{prefix}-{n}",
                    "customer_id": customer,
                    "event_type": "call",
                    "timestamp": at.isoformat(),
                }
            ),
        )
        for n in range(count)
    ]
    return ingest_records(engine, stored.catalog, suite, records, "test", at)


def ledger(engine) -> list[tuple[str, str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(Notification.kind, Notification.subject, Notification.period).order_by(Notification.id)
        )
        return [tuple(row) for row in rows]


def test_crossing_500_then_1000_notifies_twice_and_re_ingesting_nothing(engine, event_suite):
    stored = setup(engine)
    late_march = datetime(2026, 3, 30, 12, tzinfo=UTC)  # 29.5 of 31 days gone: no forecast early
    report = ingest(engine, event_suite, stored, "a", 600, late_march)
    assert report.customers == {"acme"}
    first = evaluate_spend(engine, stored.catalog, report.customers, late_march, late_march)
    assert first.new == 1 and ledger(engine) == [("spend_threshold", "alert/500.00", "2026-03-01")]
    (context,) = [r.context for r in first.due]
    assert (context["spend"], context["threshold"], context["period_last_day"]) == (
        "600.00",
        "500.00",
        "2026-03-31",
    )

    again = ingest(engine, event_suite, stored, "a", 600, late_march)  # the same events: duplicates
    assert again.customers == set()
    repeat = evaluate_spend(engine, stored.catalog, ["acme"], late_march, late_march)
    assert (repeat.new, repeat.due) == (0, [])  # crossed and told already: not listed again
    dry = evaluate_spend(engine, stored.catalog, ["acme"], late_march, late_march, dry_run=True)
    assert (dry.new, dry.due) == (0, [])  # a dry run does not say it would send it

    more = ingest(engine, event_suite, stored, "b", 450, late_march)
    assert evaluate_spend(engine, stored.catalog, more.customers, late_march, late_march).new == 1
    assert ledger(engine)[1:] == [("spend_threshold", "alert/1000.00", "2026-03-01")]


def test_the_forecast_warns_before_the_crossing_and_not_after(engine, event_suite):
    stored = setup(engine)
    day_ten = datetime(2026, 3, 11, tzinfo=UTC)  # 10 of 31 days gone
    ingest(engine, event_suite, stored, "a", 330, day_ten - timedelta(hours=1))  # 330 x 3.1 = 1023
    assert evaluate_spend(engine, stored.catalog, ["acme"], day_ten, day_ten).new == 1
    assert ledger(engine) == [("spend_forecast", "forecast/1000.00", "2026-03-01")]
    with engine.begin() as connection:
        connection.execute(sa.delete(NotificationDelivery))  # as if the warning had not been sent yet
        connection.execute(sa.delete(Notification))
    ingest(engine, event_suite, stored, "b", 700, day_ten)  # 1030 spent: past both alerts
    evaluate_spend(engine, stored.catalog, ["acme"], day_ten, day_ten)
    assert sorted(ledger(engine)) == [
        ("spend_threshold", "alert/1000.00", "2026-03-01"),
        ("spend_threshold", "alert/500.00", "2026-03-01"),
    ]


def test_a_new_period_crosses_again(engine, event_suite):
    stored = setup(engine)
    for prefix, at in (
        ("march", datetime(2026, 3, 31, tzinfo=UTC)),
        ("april", datetime(2026, 4, 30, tzinfo=UTC)),
    ):
        ingest(engine, event_suite, stored, prefix, 520, at)
        evaluate_spend(engine, stored.catalog, ["acme"], at, at)
    assert ledger(engine) == [
        ("spend_threshold", "alert/500.00", "2026-03-01"),
        ("spend_threshold", "alert/500.00", "2026-04-01"),
    ]


def test_a_kolkata_customer_is_projected_on_its_local_days(engine, event_suite):
    stored = setup(engine, "Asia/Kolkata")
    # Kolkata's March starts at 18:30 UTC on Feb 28; 18:30 UTC on Mar 10 is 10 local days in,
    # so 323 calls project to 323 x 31/10 = 1001.3 calls, past the $1000 alert.
    ingest(engine, event_suite, stored, "a", 323, datetime(2026, 3, 5, tzinfo=UTC))
    at = datetime(2026, 3, 10, 18, 30, tzinfo=UTC)
    report = evaluate_spend(engine, stored.catalog, ["acme"], at, at)
    (forecast,) = report.due
    assert forecast.context["projected"] == "1001.30"  # on UTC days it would be about 1025
    assert forecast.on is not None and forecast.on.isoformat() == "2026-03-10"
    assert forecast.period == "2026-03-01"
    later = at + timedelta(days=1)  # 11 days in: 323 x 31/11 = 910.3, under 1000
    assert evaluate_spend(engine, stored.catalog, ["acme"], later, later, dry_run=True).due == []


def test_the_daily_scan_evaluates_only_customers_with_usage_since(engine, event_suite):
    stored = setup(engine)
    at = datetime(2026, 3, 20, tzinfo=UTC)
    first = evaluate_spend_since_last(engine, stored.catalog, at, at)
    assert first.evaluated == 2 and first.new == 0  # never evaluated: each once, in its period
    with engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(SpendEvaluation)) == 2
    assert evaluate_spend_since_last(engine, stored.catalog, at, at).evaluated == 0
    ingest(engine, event_suite, stored, "a", 510, at, customer="acme")
    scan = evaluate_spend_since_last(engine, stored.catalog, at, at)
    assert (scan.evaluated, scan.new) == (1, 1)
    assert [r.customer_id for r in scan.due] == ["acme"]
    # evaluated at the end of its ingest already: the scan leaves it alone
    ingest(engine, event_suite, stored, "b", 10, at, customer="acme")
    evaluate_spend(engine, stored.catalog, ["acme"], at, at)
    assert evaluate_spend_since_last(engine, stored.catalog, at, at).evaluated == 0
    april = datetime(2026, 4, 2, tzinfo=UTC)  # a new period: each customer once again
    assert evaluate_spend_since_last(engine, stored.catalog, april, april).evaluated == 2


def test_credits_running_low_after_an_invoice_run_notify_once(engine, event_suite):
    credit = {"amount": "100.00", "granted_on": "2026-03-01"}
    stored = setup(engine, credits=[credit])
    ingest(engine, event_suite, stored, "a", 85, datetime(2026, 3, 10, tzinfo=UTC))
    as_of = datetime(2026, 4, 10, tzinfo=UTC)
    invoice_customers(engine, stored, ["acme"], as_of, grace=timedelta(days=3), due_days=30, now=as_of)
    report = evaluate_credits(engine, stored.catalog, ["acme", "quiet"], as_of, as_of)
    (low,) = report.due
    assert (low.customer_id, low.subject, low.period) == ("acme", "credit/2026-03-01/0", "2026-03-01")
    assert (low.context["granted"], low.context["remaining"]) == ("100.00", "15.00")
    assert evaluate_credits(engine, stored.catalog, ["acme"], as_of, as_of).new == 0  # once per grant
    # the daily scan: no invoice since the last evaluation, nothing to look at again
    assert evaluate_spend_since_last(engine, stored.catalog, as_of, as_of).due == []


def test_with_the_catalog_unchanged_the_scan_reads_only_unsettled_watermarks(engine, event_suite):
    """A settled customer (evaluated in the period in progress, no usage since) is not even
    read while the catalog is the one the last scan covered; a new catalog reads every one."""
    from billing.store import spend_evaluations

    stored = setup(engine)
    at = datetime(2026, 3, 20, tzinfo=UTC)
    evaluate_spend_since_last(engine, stored.catalog, at, at)
    with engine.connect() as connection:
        assert spend_evaluations.unsettled(connection, at) == set()
        assert spend_evaluations.unsettled(connection, datetime(2026, 4, 2, tzinfo=UTC)) == {"acme", "quiet"}
        assert spend_evaluations.scan_mark(connection).catalog_version == stored.catalog.version
    with engine.begin() as connection:  # forget acme's watermark behind the ledger's back
        connection.execute(sa.delete(SpendEvaluation).where(SpendEvaluation.customer_id == "acme"))
    assert evaluate_spend_since_last(engine, stored.catalog, at, at).evaluated == 0  # not read
    with engine.begin() as connection:  # as if the last scan had covered another catalog
        connection.execute(sa.text("UPDATE spend_scan_marks SET catalog_version = 'other'"))
    again = evaluate_spend_since_last(engine, stored.catalog, at, at)
    assert again.evaluated == 1  # acme, never evaluated as far as the watermarks know
