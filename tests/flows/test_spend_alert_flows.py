"""A spend threshold crossed by one ingest run is emailed in that run; the daily scan then has
nothing left to say."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime
from email import policy

import pytest

from billing.store.catalog_versions import save_catalog
from tests.integration.test_spend_alerts import MARCH, catalog

pytestmark = [pytest.mark.flow, pytest.mark.one_database, pytest.mark.usefixtures("prefect_harness")]
LATE_MARCH = datetime(2026, 3, 30, 12, tzinfo=UTC)


def outbox(tmp_path) -> list[tuple[str, str, str]]:
    found = []
    for path in sorted((tmp_path / "outbox").glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        found.append((message["To"], message["Subject"], message.get_body(("plain",)).get_content()))
    return found


def test_an_ingest_run_crossing_an_alert_emails_it_before_it_ends(configured, tmp_path, monkeypatch):
    from billing.runtime import resources
    from flows.ingest import ingest_usage
    from flows.lifecycle import scan_lifecycle

    monkeypatch.setattr(resources, "utc_now", lambda: LATE_MARCH)
    with configured.begin() as connection:
        save_catalog(connection, catalog(), "test", MARCH)
    path = tmp_path / "usage.jsonl"
    rows = [
        {
            "transaction_id": f"t{n}",
            "customer_id": "acme",
            "event_type": "call",
            "timestamp": "2026-03-30T10:00:00Z",
        }
        for n in range(520)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")

    summary = ingest_usage(str(path), chunk_size=200)
    assert summary["accepted"] == 520
    assert summary["notifications"] == {"queued": 1, "sent": 1, "failed": 0}
    ((to, subject, text),) = outbox(tmp_path)
    assert to == "acme@example.com"
    assert subject == "acme: spend passed $500.00 this period"
    assert "this period (1 Mar 2026 – 31 Mar 2026) has reached $520.00" in text

    again = ingest_usage(str(path))  # the same file: duplicates, nothing stored, nothing said
    assert again["duplicates"] == 520 and again["notifications"] == {"queued": 0, "sent": 0, "failed": 0}

    scan = scan_lifecycle(LATE_MARCH)  # acme was evaluated by its ingest; quiet has no spend
    assert (scan["due"], scan["new"]) == ([], 0)
    assert len(outbox(tmp_path)) == 1
