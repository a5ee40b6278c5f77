"""The ingest flow publishes its validation result as its own Prefect artifact."""

from __future__ import annotations

import json

import pytest

from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.flows.runs import artifact, completed_run

pytestmark = pytest.mark.one_database

GOOD = {"customer_id": "alpha", "timestamp": "2026-03-02T10:00:00Z"}


def _line(txid: str, event_type: str, **properties: object) -> bytes:
    row = {"transaction_id": txid, "event_type": event_type, **GOOD, "properties": properties}
    return json.dumps(row).encode()


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_the_run_publishes_rules_rows_checked_and_failures_per_rule(configured, tmp_path):
    from billing.runtime.resources import utc_now
    from billing.sources.catalog_file import load_catalog
    from flows.ingest import ingest_usage

    with configured.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", utc_now())
    path = tmp_path / "usage.jsonl"
    lines = [
        _line("v1", "api_call"),
        _line("v2", "llm", tokens=-5),
        _line("v3", "llm", tokens="many"),
        _line("v4", "telemetry"),
        b"{not json",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")

    summary, run_id = completed_run(ingest_usage, str(path), chunk_size=2)

    assert summary["validation"]["rows_checked"] == 4
    assert summary["validation"]["chunks"] == 3
    markdown = artifact(run_id, "ingest-validation")
    assert "| 4 | 3 |" in markdown  # rows checked, chunks
    assert "| properties.tokens aggregable by metric tokens | 2 |" in markdown
    assert "| event_type counted by a metric | 1 |" in markdown
    assert "| timestamp from 2000-01-01 to now + 5 minutes | 0 |" in markdown
    assert "| row readable | 1 |" in markdown
