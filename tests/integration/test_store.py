"""The store on SQLite and PostgreSQL: catalog versions, API keys, the send ledger, quarantine."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing.core.errors import BillingError
from billing.core.lifecycle import Reminder
from billing.sources.catalog_file import load_catalog
from billing.store import send_ledger
from billing.store.api_keys import create_key, key_owner, list_keys, new_key, revoke_key
from billing.store.catalog_versions import NoCatalog, active_catalog, save_catalog
from billing.store.models import ApiKey, CatalogVersion, ContractRow, CustomerRow
from billing.store.usage_events import insert_quarantined, quarantine_fingerprint
from tests.conftest import FIXTURES

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_catalog_versions_are_immutable_and_keyed_by_content(engine, tmp_path):
    with engine.connect() as connection, pytest.raises(NoCatalog):
        active_catalog(connection)
    first = load_catalog(FIXTURES / "three_customers.yaml")
    changed_file = tmp_path / "changed.yaml"
    changed_file.write_text((FIXTURES / "three_customers.yaml").read_text().replace('"10.00"', '"12.00"'))
    changed = load_catalog(changed_file)
    with engine.begin() as connection:
        one = save_catalog(connection, first, "a", NOW)
        two = save_catalog(connection, changed, "b", NOW + timedelta(hours=1))
        again = save_catalog(connection, first, "a", NOW + timedelta(hours=2))
    assert (one.created, two.created, again.created) == (True, True, False)
    assert again.id == one.id and two.id != one.id
    with engine.connect() as connection:
        active = active_catalog(connection)
        versions = connection.scalar(sa.select(sa.func.count()).select_from(CatalogVersion))
        query = sa.select(CustomerRow.id, CustomerRow.timezone).order_by(CustomerRow.id)
        customers = connection.execute(query).all()
        contracts = connection.scalar(sa.select(sa.func.count()).select_from(ContractRow))
    assert versions == 2
    assert active.id == one.id and active.catalog.version == first.version
    assert customers == [("alpha", "UTC"), ("bravo", "America/New_York"), ("charlie", "Europe/Berlin")]
    assert contracts == 3


def test_api_keys_are_stored_hashed_and_can_be_revoked(engine):
    with engine.begin() as connection:
        key = create_key(connection, "shop", NOW)
        with pytest.raises(BillingError, match="exists already"):
            create_key(connection, "shop", NOW)
    with engine.connect() as connection:
        stored = connection.execute(sa.select(ApiKey.key_hash, ApiKey.prefix)).one()
        public, secret = key[len("bk_") :].split("_", 1)
        assert key not in stored and stored.prefix == f"bk_{public}"
        assert len(secret) == 43 and secret not in stored.key_hash
        assert key_owner(connection, key) == "shop"
        assert key_owner(connection, key + "x") is None
        for nasty in ("", "bk_", "bk_\x00" * 30, "bk_\ud800" * 30, "x" * 10_000, key + "\n"):
            assert key_owner(connection, nasty) is None
    with engine.begin() as connection:
        revoke_key(connection, "shop", NOW)
        with pytest.raises(BillingError, match="no active API key"):
            revoke_key(connection, "shop", NOW)
    with engine.connect() as connection:
        assert key_owner(connection, key) is None
        assert [(k.name, k.prefix, k.revoked_at) for k in list_keys(connection)] == [
            ("shop", f"bk_{public}", NOW)
        ]


def test_a_key_prefix_is_its_public_id_apart_from_its_secret() -> None:
    keys = [new_key() for _ in range(200)]
    for key, prefix in keys:
        assert re.fullmatch(r"bk_[0-9a-f]{12}", prefix)
        assert key.startswith(prefix + "_") and len(key) == len(prefix) + 1 + 43
    assert len({prefix for _, prefix in keys}) == len({key for key, _ in keys}) == 200


def _reminder(customer="alpha", period="2026-03-01"):
    email = f"{customer}@x.example"
    context = {
        "customer_id": customer,
        "customer_name": customer,
        "currency": "USD",
        "plan_name": "Pro",
        "trial_ends_on": period,
        "days_left": 2,
        "recurring_fee": "30.00",
        "minimum_commitment": None,
    }
    return Reminder(customer, "trial_ending", "contract/2026-02-19", period, email, context)


def test_the_ledger_takes_each_reminder_once(engine):
    with engine.begin() as connection:
        assert send_ledger.enqueue(connection, [_reminder(), _reminder("bravo")], NOW) == 2
        assert send_ledger.enqueue(connection, [_reminder(), _reminder("bravo")], NOW) == 0
        assert send_ledger.already_recorded(connection, [_reminder(), _reminder("zulu")]) == {_reminder().key}


def test_concurrent_claims_never_hand_one_reminder_to_two_senders(engine):
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_reminder(period=f"2026-03-{d:02d}") for d in range(1, 29)], NOW)
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim():
        barrier.wait()
        for _ in range(20):
            try:
                with engine.begin() as connection:
                    claimed.append([n.id for n in send_ledger.claim(connection, NOW, limit=5)])
                return
            except sa.exc.OperationalError:  # SQLite: "database is locked" under contention
                continue

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [i for batch in claimed for i in batch]
    assert len(ids) == len(set(ids)) == 20


def test_a_failed_send_is_pending_again_and_a_stale_claim_is_taken_back(engine):
    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_reminder()], NOW)
        (first,) = send_ledger.claim(connection, NOW)
        assert send_ledger.claim(connection, NOW) == []  # claimed: nobody else gets it
        send_ledger.mark_failed(connection, first.id, "HTTP 503")
        (retry,) = send_ledger.claim(connection, NOW)
        assert retry.id == first.id
        assert send_ledger.claim(connection, NOW + timedelta(minutes=5)) == []
        (stale,) = send_ledger.claim(connection, NOW + send_ledger.STALE_CLAIM + timedelta(seconds=1))
        send_ledger.mark_sent(connection, stale.id, "msg-1", NOW)
        assert send_ledger.claim(connection, NOW + timedelta(days=1)) == []


def test_the_same_bad_row_is_held_once(engine):
    row = {
        "fingerprint": quarantine_fingerprint("malformed_json", "{oops"),
        "transaction_id": None,
        "customer_id": None,
        "reason": "malformed_json",
        "detail": "not valid JSON",
        "payload": "{oops",
        "source": "a.jsonl",
        "line": 3,
        "status": "held",
        "received_at": NOW,
    }
    with engine.begin() as connection:
        assert insert_quarantined(connection, [row]) == 1
        assert insert_quarantined(connection, [row | {"source": "b.jsonl"}]) == 0


def test_a_sending_run_tries_each_email_once_even_when_all_fail(engine):
    from billing.notify.backends import DeliveryError
    from billing.services.email_delivery import EmailChannel
    from billing.services.notification_delivery import deliver_all

    class Down:
        attempts = 0

        def send(self, message):
            Down.attempts += 1
            # a 500: retryable, not a "slow down" (429, 503), which would stop the channel
            raise DeliveryError("HTTP 500 from the provider", status=500, retryable=True)

    with engine.begin() as connection:
        send_ledger.enqueue(connection, [_reminder(period=f"2026-03-0{d}") for d in range(1, 4)], NOW)
    clock = iter(NOW + timedelta(seconds=s) for s in range(100))
    report = deliver_all(engine, [EmailChannel(Down(), "billing@x.example")], lambda: next(clock), batch=2)
    assert Down.attempts == 3 and len(report.failed) == 3 and report.sent == []
    assert (
        deliver_all(engine, [EmailChannel(Down(), "billing@x.example")], lambda: next(clock), batch=2).failed
        == {}
    )
    later = iter(NOW + timedelta(hours=1, seconds=s) for s in range(100))  # past their backoff
    again = deliver_all(engine, [EmailChannel(Down(), "billing@x.example")], lambda: next(later), batch=2)
    assert Down.attempts == 6 and len(again.failed) == 3  # the next run retries each, once


def test_a_catalog_whose_numeric_metric_meets_text_in_stored_events_is_refused(engine):
    from billing.core.catalog import parse_catalog
    from billing.core.events import UsageEvent
    from billing.store.unmeterable import unmeterable_events
    from billing.store.usage_events import insert_events

    def catalog(aggregation: str):
        return parse_catalog(
            {
                "currency": "USD",
                "metrics": [{"code": "m", "event_type": "e", "aggregation": aggregation, "field": "v"}],
                "plans": [
                    {"code": "p", "interval": "monthly", "charges": [{"model": "flat", "amount": "1"}]}
                ],
            }
        )

    events = [
        UsageEvent("ok", "c", "e", NOW, {"v": Decimal("1.5")}),
        UsageEvent("no-field", "c", "e", NOW, {}),
        UsageEvent("text", "c", "e", NOW, {"v": "ten"}),
    ]
    with engine.begin() as connection:
        insert_events(connection, events, set(), NOW)
    with engine.connect() as connection:
        assert unmeterable_events(connection, catalog("unique_count")) == []  # text is fine to count
        (problem,) = unmeterable_events(connection, catalog("sum"))
    assert "'v' that is not a number (transaction_id 'text'" in problem


def test_saving_a_catalog_refuses_one_whose_new_filter_meets_text_stored_before(engine):
    """A decimal string stored when no metric aggregated it ("2.5", kept as text) must not be
    skipped by rollups, cast by raw SQL, or refused by the core later: the catalog is refused."""
    from billing.core.catalog import parse_catalog
    from billing.core.errors import CatalogError
    from billing.core.events import UsageEvent
    from billing.store.catalog_versions import active_catalog, save_catalog
    from billing.store.usage_events import insert_events

    def catalog(region: str):
        metric = {"code": "gb", "event_type": "store", "aggregation": "sum", "field": "gb"}
        return parse_catalog(
            {
                "currency": "USD",
                "metrics": [{**metric, "filters": {"region": region}}],
                "plans": [
                    {"code": "p", "interval": "monthly", "charges": [{"model": "flat", "amount": "1"}]}
                ],
            }
        )

    with engine.begin() as connection:
        first = save_catalog(connection, catalog("eu"), "eu.yaml", NOW)
        insert_events(
            connection, [UsageEvent("us-1", "c", "store", NOW, {"region": "us", "gb": "2.5"})], set(), NOW
        )
    with pytest.raises(CatalogError) as refused, engine.begin() as connection:
        save_catalog(connection, catalog("us"), "us.yaml", NOW)
    assert refused.value.problems == [
        "us.yaml: metrics: gb: stored 'store' events have a 'gb' that is not a number "
        "(transaction_id 'us-1', maybe more); fix the metric or those events"
    ]
    with engine.connect() as connection:
        assert active_catalog(connection).id == first.id  # nothing changed
