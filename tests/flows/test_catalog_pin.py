"""A run sees one catalog: the version its flow read at the start, whatever is loaded meanwhile.

The tasks' functions are called as a flow calls them, with the pinned version id, after another
version has been activated (a `billing catalog load` between two chunks of one run).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from billing.sources.catalog_file import load_catalog
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import NoCatalog, active_catalog, catalog_version, save_catalog
from billing.store.models import InvoiceRow, QuarantinedEvent
from tests.conftest import FIXTURES

pytestmark = pytest.mark.one_database

FIXTURE = FIXTURES / "three_customers.yaml"
LOADED_AT = datetime(2026, 3, 1, tzinfo=UTC)


def _versions(engine, tmp_path):
    """The fixture catalog (pinned by the run), then a changed one made active meanwhile:
    alpha's calls at 0.20 instead of 0.10, EU storage no longer metered by `gb`, and charlie's
    trial 20 days instead of 10."""
    basic_calls = '{metric: api_calls, model: per_unit, unit_price: "0.10"}'
    changed = FIXTURE.read_text().replace(basic_calls, basic_calls.replace("0.10", "0.20"))
    changed = changed.replace("trial_days: 10", "trial_days: 20")
    changed = changed.replace(
        "  - {code: storage_gb, name: EU storage, event_type: storage, aggregation: max, field: gb, "
        "filters: {region: eu}}\n",
        "  - {code: storage_gb, name: EU storage, event_type: storage, aggregation: count}\n",
    )
    assert '"0.20"' in changed and "field: gb" not in changed and "trial_days: 20" in changed
    path = tmp_path / "changed.yaml"
    path.write_text(changed)
    with engine.begin() as connection:
        pinned = save_catalog(connection, load_catalog(FIXTURE), "fixture", LOADED_AT)
        later = save_catalog(connection, load_catalog(path), "changed", LOADED_AT)
    with engine.connect() as connection:
        assert active_catalog(connection).id == later.id != pinned.id
    return pinned, later


def _record(line: int, txid: str, customer: str, event_type: str, at: str, **properties: object) -> RawRecord:
    event = {"transaction_id": txid, "customer_id": customer, "event_type": event_type, "timestamp": at}
    return RawRecord(line, json.dumps(event | ({"properties": properties} if properties else {})))


def test_the_pinned_version_is_loaded_by_id_not_the_active_one(configured, tmp_path):
    pinned, later = _versions(configured, tmp_path)
    with configured.connect() as connection:
        assert catalog_version(connection, pinned.id).content_hash == pinned.content_hash
        assert catalog_version(connection, later.id).content_hash == later.content_hash
        with pytest.raises(NoCatalog, match="no catalog version 999 is stored"):
            catalog_version(connection, 999)


def test_ingest_chunks_validate_against_the_pinned_version(configured, tmp_path):
    from tasks.ingest import store_chunk, validate_chunk

    pinned, _ = _versions(configured, tmp_path)
    # Under the pinned catalog `gb` is a metric's number: text there is quarantined. The
    # version loaded meanwhile does not meter `gb` and would accept the row.
    records = [
        _record(0, "s-1", "bravo", "storage", "2026-03-05T00:00:00Z", gb="lots", region="eu"),
        _record(1, "s-2", "bravo", "storage", "2026-03-05T00:00:00Z", gb=2.5, region="eu"),
    ]
    report = store_chunk.fn(validate_chunk.fn(records, "chunk-2", pinned.id))
    assert (report.accepted, report.quarantined) == (1, 1)
    with configured.connect() as connection:
        held = connection.execute(sa.select(QuarantinedEvent.transaction_id, QuarantinedEvent.reason)).all()
    assert [tuple(row) for row in held] == [("s-1", "invalid_property")]


def test_invoice_chunks_rate_with_the_pinned_version_and_record_it(configured, tmp_path, event_suite):
    from billing.services.ingest import ingest_records
    from tasks.invoices import invoice_chunk

    pinned, _ = _versions(configured, tmp_path)
    calls = [_record(n, f"a-{n}", "alpha", "api_call", f"2026-03-0{n + 2}T10:00:00Z") for n in range(3)]
    ingest_records(configured, pinned.catalog, event_suite, calls, "f", datetime(2026, 4, 5, tzinfo=UTC))
    as_of = datetime(2026, 4, 3, tzinfo=UTC)
    report = invoice_chunk.fn(["alpha"], as_of, False, pinned.id)
    # March's fee 10.00 on Mar 1; then 3 calls x 0.10 (the pinned price, not 0.20) + April's fee
    assert [str(o.total) for o in report.outcomes] == ["10.00", "10.30"]
    with configured.connect() as connection:
        used = set(connection.scalars(sa.select(InvoiceRow.catalog_version_id)))
    assert used == {pinned.id}


END_OF_FEB_27 = datetime(2026, 2, 28, tzinfo=UTC)  # `--as-of 2026-02-27`


def test_the_lifecycle_scan_reads_the_pinned_version(configured, tmp_path):
    from tasks.notifications import queue_due_reminders

    pinned, later = _versions(configured, tmp_path)
    # charlie's trial ends on Mar 1 under the pinned version (reminder due Feb 26 to Mar 1),
    # on Mar 11 under the one loaded meanwhile (nothing due on Feb 27)
    scan = queue_due_reminders.fn(END_OF_FEB_27, True, pinned.id)
    assert [(r.customer_id, r.kind) for r in scan.due] == [("charlie", "trial_ending")]
    assert queue_due_reminders.fn(END_OF_FEB_27, True, later.id).due == []
    with pytest.raises(NoCatalog):
        queue_due_reminders.fn(END_OF_FEB_27, True, later.id + 1)
