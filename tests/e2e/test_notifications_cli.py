"""`billing notifications list` as an operator runs it, on SQLite and PostgreSQL: a table of
the ledger's history newest first (key, kind, status, local day, each channel, the last error),
filters, pages and JSON; bad arguments are one line."""

from __future__ import annotations

import json
import re

import pytest

from billing.sources.catalog_file import load_catalog
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES
from tests.e2e.test_cli import billing, one_line_refusal
from tests.ledger_rows import RECORDED, bravo_history

pytestmark = pytest.mark.one_database


@pytest.fixture
def ledger(engine) -> tuple[dict[str, str], dict[str, int]]:
    with engine.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", RECORDED)
        ids = bravo_history(connection)
    return {"BILLING_DATABASE_URL": engine.url.render_as_string(hide_password=False)}, ids


def test_a_table_of_the_history_newest_first(ledger) -> None:
    env, ids = ledger
    listed = billing("notifications", "list", "--customer", "bravo", env=env)
    assert listed.returncode == 0, listed.stderr
    head, *table = listed.stdout.splitlines()
    assert head == "4 notifications, newest first:"
    header, *rows = [re.split(r"\s{2,}", line.strip()) for line in table]
    assert header == ["id", "key", "kind", "status", "due on", "created", "deliveries", "last error"]
    assert [int(row[0]) for row in rows] == sorted(ids.values(), reverse=True)
    failed, skipped, renewal, trial = (dict(zip(header, row, strict=True)) for row in rows)
    assert failed["key"] == "spend_threshold/bravo/contract/2026-03-01/2026-03-01"
    assert (failed["kind"], failed["status"], failed["deliveries"]) == (
        "spend_threshold",
        "failed",
        "email failed (1 try)",
    )
    assert failed["last error"] == "email: SendGrid 400: bad address"
    assert (skipped["status"], skipped["deliveries"]) == ("skipped", "-")
    assert skipped["last error"] == "contract ended on 2026-02-28, before this scan"
    assert renewal["deliveries"] == "email sent, webhook pending (1 try)"
    assert renewal["last error"] == "webhook: HTTP 503 from receiver"
    # bravo's local day and time (New York): recorded at 09:30 UTC
    assert (trial["due on"], trial["created"]) == ("12 Mar 2026", "2026-03-12 05:30-0400")
    assert (trial["deliveries"], trial["last error"]) == ("email sent, webhook sent", "-")


def test_filters_pages_and_json(ledger) -> None:
    env, ids = ledger
    everyone = json.loads(billing("notifications", "list", "--json", env=env).stdout)
    assert [n["customer_id"] for n in everyone["notifications"]] == ["alpha", *["bravo"] * 4]
    assert everyone["next_before"] is None
    assert everyone["notifications"][0]["created_at"] == "2026-03-12T09:30:00+00:00"  # alpha: UTC

    skipped = json.loads(billing("notifications", "list", "--status", "skipped", "--json", env=env).stdout)
    assert [n["kind"] for n in skipped["notifications"]] == ["contract_ending"]
    trials = billing("notifications", "list", "--kind", "trial_ending", env=env).stdout.splitlines()
    assert trials[0] == "2 notifications, newest first:"

    first = billing("notifications", "list", "--customer", "bravo", "--limit", "3", env=env)
    *_, more = first.stdout.splitlines()
    assert more == f"older ones: billing notifications list --before {ids['renewal_upcoming']} (same filters)"
    rest = billing(
        "notifications", "list", "--customer", "bravo", "--before", str(ids["renewal_upcoming"]), env=env
    )
    assert [line.split()[0] for line in rest.stdout.splitlines()[2:]] == [str(ids["trial_ending"])]
    nothing = billing("notifications", "list", "--customer", "charlie", env=env)
    assert (nothing.returncode, nothing.stdout) == (0, "no notifications match\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customer", "zulu"], "billing: unknown customer 'zulu'"),
        (["--limit", "0"], "billing: limit: must be from 1 to 200 (got 0)"),
        (["--limit", "500"], "billing: limit: must be from 1 to 200 (got 500)"),
    ],
)
def test_a_mistake_is_one_line(ledger, args, message) -> None:
    env, _ = ledger
    one_line_refusal(billing("notifications", "list", *args, env=env), message)


def test_an_unknown_kind_or_status_is_refused_by_the_parser(ledger) -> None:
    env, _ = ledger
    for args in (["--kind", "birthday"], ["--status", "lost"]):
        result = billing("notifications", "list", *args, env=env)
        assert (
            result.returncode == 2 and "invalid choice" in result.stderr and "Traceback" not in result.stderr
        )
