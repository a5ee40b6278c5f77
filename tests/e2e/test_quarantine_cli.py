"""`billing quarantine` as an operator runs it: a table, one row in full, a retry, a discard."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from billing.services.ingest import ingest_records
from billing.sources.catalog_file import load_catalog
from billing.sources.usage_files import RawRecord
from billing.store.catalog_versions import save_catalog
from billing.store.database import create_engine, upgrade
from tests.conftest import FIXTURES
from tests.e2e.test_cli import billing, one_line_refusal

NOW = datetime(2026, 3, 20, tzinfo=UTC)
CATALOG = FIXTURES / "three_customers.yaml"


def _line(txid: str, customer: str) -> str:
    row = {"transaction_id": txid, "customer_id": customer, "event_type": "api_call"}
    return json.dumps(row | {"timestamp": "2026-03-05T10:00:00Z"})


@pytest.fixture
def held(tmp_path, event_suite) -> dict[str, str]:
    """A SQLite database holding three quarantined rows: two unknown customers, one not JSON."""
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as connection:
        catalog = save_catalog(connection, load_catalog(CATALOG), "fixture", NOW).catalog
    lines = [_line("q1", "delta"), "{broken", _line("q3", "echo")]
    records = [RawRecord(n, text=text) for n, text in enumerate(lines, start=1)]
    ingest_records(engine, catalog, event_suite, records, "inbox/usage.jsonl", NOW)
    engine.dispose()
    return {"BILLING_DATABASE_URL": url}


def test_list_show_retry_and_discard(held, tmp_path):
    listed = billing("quarantine", "list", env=held)
    assert listed.returncode == 0, listed.stderr
    head, header, *rows = listed.stdout.splitlines()
    assert head == "3 held rows match:"
    assert header.split() == [
        "id",
        "received",
        "status",
        "reason",
        "customer",
        "transaction",
        "source:line",
        "detail",
    ]
    assert [row.split()[0] for row in rows] == ["3", "2", "1"]  # newest first
    ids = {
        d["transaction_id"]: d["id"]
        for d in json.loads(billing("quarantine", "list", "--json", env=held).stdout)
    }
    delta, broken, echo = str(ids["q1"]), str(ids[None]), str(ids["q3"])
    (row,) = [row for row in rows if row.split()[0] == delta]
    assert "unknown_customer  delta     q1           inbox/usage.jsonl:1" in row
    documents = json.loads(
        billing("quarantine", "list", "--reason", "malformed_json", "--json", env=held).stdout
    )
    assert [(str(d["id"]), d["line"], d["status"]) for d in documents] == [(broken, 2, "held")]
    limited = billing("quarantine", "list", "--customer", "delta", "--limit", "1", env=held)
    assert limited.stdout.splitlines()[0] == "1 held row matches:"

    shown = billing("quarantine", "show", delta, env=held)
    assert shown.returncode == 0, shown.stderr
    assert "  reason:       unknown_customer" in shown.stdout
    assert "  line:         1" in shown.stdout
    assert _line("q1", "delta") in shown.stdout  # the payload as received

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        CATALOG.read_text()
        + "  - id: delta\n    name: Delta\n    email: d@delta.example\n"
        + "    contracts:\n      - {plan: basic, starts_on: 2026-03-01}\n"
    )
    assert billing("catalog", "load", str(catalog), env=held).returncode == 0
    retried = billing(
        "quarantine", "retry", "--reason", "unknown_customer", "--note", "delta signed", env=held
    )
    assert retried.returncode == 0, retried.stderr
    first, *problems = retried.stdout.splitlines()
    assert first.startswith("retried 2 rows with catalog version ")
    assert first.endswith(": 1 accepted, 0 duplicates, 1 held again")
    assert problems == [f"  row {echo}: unknown_customer: customer 'echo' is not in the catalog"]

    discarded = billing("quarantine", "discard", broken, "--note", "not ours", "--by", "ana", env=held)
    assert (discarded.returncode, discarded.stdout.strip()) == (0, "discarded 1 row")
    history = json.loads(billing("quarantine", "show", broken, "--json", env=held).stdout)
    assert history["status"] == "discarded"
    assert [(a["action"], a["actor"], a["note"]) for a in history["actions"]] == [
        ("discard", "ana", "not ours")
    ]
    assert "retry by " in billing("quarantine", "show", delta, env=held).stdout
    everything = billing("quarantine", "list", "--status", "all", "--json", env=held).stdout
    resolutions = {str(d["id"]): d["resolution"] for d in json.loads(everything)}
    assert resolutions == {delta: "accepted", broken: "discarded", echo: None}

    again = billing("quarantine", "discard", delta, echo, env=held)  # retried already: left alone
    assert again.returncode == 1
    assert again.stdout.strip() == "discarded 1 row"
    assert again.stderr.strip() == f"billing: row {delta} is retried (accepted) already: left as it is"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "99"], "billing: no quarantined row with id 99"),
        (["discard", "99", "1"], "billing: no quarantined row with id 99"),
        (["retry"], "retry: name the rows: ids, or --reason, --source or --customer"),
        (["retry", "1", "--reason", "conflict"], "give row ids or filters"),
        (["list", "--limit", "0"], "--limit: must be at least 1 (got 0)"),
    ],
)
def test_mistakes_are_one_line(held, args, message):
    one_line_refusal(billing("quarantine", *args, env=held), message)


def test_bad_arguments_exit_2(held):
    result = billing("quarantine", "show", "one", env=held)
    assert result.returncode == 2 and "invalid int value: 'one'" in result.stderr
    assert len(result.stderr.splitlines()) == 1
