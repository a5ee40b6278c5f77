"""The `billing` command as a user runs it: real processes, stdout, stderr and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = pytest.mark.one_database

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "catalog.example.yaml"


def billing(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "billing.cli.main", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_quote_json_is_one_object_with_exact_amounts():
    result = billing(
        "quote",
        "--catalog",
        str(EXAMPLE),
        "--plan",
        "pro",
        "--usage",
        "api_calls=12000",
        "storage_gb=80",
        "active_users=12",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert document["currency"] == "USD"
    # 30.00 fee; calls: 1000 x 0.01 + 9000 x 0.008 + 2000 x 0.005 + 5.00 = 97.00;
    # storage: volume, 80 GB in the 50-500 tier at 0.20 = 16.00; users: 12 x 2.00 = 24.00
    assert [line["amount"] for line in document["lines"]] == ["30.00", "97.00", "16.00", "24.00"]
    assert (document["subtotal"], document["total"]) == ("167.00", "167.00")
    assert all(line["period"] is None for line in document["lines"])
    assert document["lines"][0]["metric"] is None
    assert document["lines"][1]["tiers"][2] == {
        "quantity": "2000",
        "unit_price": "0.005",
        "flat_fee": "5.00",
        "amount": "15.00",
    }


def test_quote_adds_the_true_up_and_per_transaction_fees():
    result = billing(
        "quote",
        "--catalog",
        str(EXAMPLE),
        "--plan",
        "business",
        "--usage",
        "payment_volume=1000.50",
        "payment_volume.events=3",
        "seats=10",
        "--json",
    )
    document = json.loads(result.stdout)
    amounts = {line["description"].split(":")[0]: line["amount"] for line in document["lines"]}
    # 2.9 % of 1000.50 = 29.0145, + 3 x 0.30 = 29.9145 -> 29.91; 200 + 150 + 0 + 29.91 = 379.91,
    # under the 500.00 minimum: true-up 120.09.
    assert amounts["Payment volume"] == "29.91"
    assert amounts["Minimum commitment $500.00"] == "120.09"
    assert document["total"] == "500.00"


@pytest.mark.parametrize(("currency", "expected"), [("JPY", "1235"), ("KWD", "1234.568"), ("USD", "1234.57")])
def test_quote_amounts_have_the_currency_minor_digits(tmp_path, currency, expected):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        f"currency: {currency}\n"
        "metrics: [{code: units, event_type: unit, aggregation: count}]\n"
        "plans: [{code: p, interval: monthly,\n"
        "         charges: [{metric: units, model: per_unit, unit_price: '1.2345678'}]}]\n"
    )
    result = billing("quote", "--catalog", str(catalog), "--plan", "p", "--usage", "units=1000", "--json")
    assert json.loads(result.stdout)["total"] == expected


def test_quote_text_is_a_readable_table():
    result = billing("quote", "--catalog", str(EXAMPLE), "--plan", "starter", "--usage", "api_calls=1500")
    assert result.returncode == 0
    assert "API calls: 1500 at $0.002" in result.stdout
    assert result.stdout.rstrip().endswith("22.00 USD")  # 19.00 + 3.00


def test_quote_says_on_stderr_which_usage_the_plan_does_not_charge():
    result = billing(
        "quote", "--catalog", str(EXAMPLE), "--plan", "starter", "--usage", "api_calls=1500", "seats=4"
    )
    assert result.returncode == 0
    assert result.stdout.rstrip().endswith("22.00 USD")  # the seats are priced at nothing
    assert result.stderr.strip() == (
        "note: plan 'starter' charges nothing for 'seats': that usage is left out of the quote"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", "gold"], "billing: unknown plan 'gold' (known: starter, pro, business, scale)"),
        (["--plan", "pro", "--usage", "api_call=3"], "billing: unknown metric 'api_call'"),
        (["--plan", "pro", "--usage", "api_calls=three"], "'three' is not a decimal number"),
        (["--plan", "pro", "--usage", "api_calls=-1"], "the quantity must be a finite number >= 0"),
        (["--plan", "pro", "--usage", "api_calls"], "expected METRIC=QUANTITY"),
        (["--plan", "pro", "--usage", "api_calls.events=1.5"], "must be a whole number"),
        (["--plan", "pro", "--usage", "api_calls=1", "api_calls=2"], "given twice"),
        (["--plan", "pro", "--usage", "api_calls=1e999999999"], "the quantity is too large"),
        (["--plan", "pro", "--usage", "api_calls.events=²"], "must be a whole number"),
        (["--plan", "pro", "--usage", "api_calls=1.5"], "the metric counts events, so the quantity"),
        (["--plan", "pro", "--usage", "active_users=2.5"], "counts distinct values, so the quantity"),
    ],
)
def test_quote_mistakes_are_one_line_and_exit_1(args, message):
    result = billing("quote", "--catalog", str(EXAMPLE), *args, "--json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_a_bad_catalog_lists_every_problem_with_file_path_and_value(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text()
        .replace("currency: USD", "currency: USX")
        .replace('unit_price: "0.002"', 'unit_price: "-0.002"')
    )
    result = billing("quote", "--catalog", str(bad), "--plan", "pro")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert f"billing: {bad}: currency: unknown currency 'USX'" in lines[0]
    assert lines[1] == f"billing: {bad}: plans[0].charges[1].unit_price: must not be negative (got '-0.002')"
    assert "Traceback" not in result.stderr


def test_quote_and_read_only_commands_load_neither_prefect_nor_great_expectations():
    code = (
        "import sys, contextlib, io\n"
        "from billing.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    main(['quote', '--catalog', {str(EXAMPLE)!r}, '--plan', 'pro', '--usage', 'api_calls=5'])\n"
        "    main(['catalog', 'check', " + repr(str(EXAMPLE)) + "])\n"
        "heavy = {'prefect', 'great_expectations', 'pandas', 'weasyprint'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


def test_bad_arguments_exit_2_with_one_line():
    result = billing("quote", "--plan", "pro")
    assert result.returncode == 2
    assert "the following arguments are required: --catalog" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_store_commands_on_a_fresh_database(tmp_path):
    env = {"BILLING_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    not_ready = billing("invoices", "list", env=env)
    assert not_ready.returncode == 1 and "run `billing db upgrade`" in not_ready.stderr
    assert billing("db", "upgrade", env=env).stdout.strip() == f"database at revision {head_revision()}"
    loaded = billing("catalog", "load", str(FIXTURES / "three_customers.yaml"), env=env)
    assert "3 customers" in loaded.stdout and "stored as a new version" in loaded.stdout
    again = billing("catalog", "load", str(FIXTURES / "three_customers.yaml"), env=env)
    assert "already stored" in again.stdout
    assert billing("invoices", "list", env=env).stdout.strip() == "no invoices"
    assert json.loads(billing("invoices", "list", "--json", env=env).stdout) == []
    missing = billing("invoices", "show", "INV-999999", env=env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "billing: no invoice numbered 'INV-999999'")
    created = billing("api-key", "create", "shop", env=env)
    assert created.stdout.startswith("bk_") and len(created.stdout.split()) == 1  # the key alone
    assert "shown once" in created.stderr and "Authorization: Bearer" in created.stderr
    duplicate = billing("api-key", "create", "shop", env=env)
    assert duplicate.returncode == 1 and "exists already" in duplicate.stderr
    listed = billing("api-key", "list", env=env).stdout.splitlines()
    assert listed[0].split() == ["name", "prefix", "created", "revoked"]
    assert listed[1].split()[:2] == ["shop", created.stdout.strip()[:15]] and listed[1].endswith("-")
    assert created.stdout.strip()[16:] not in "".join(listed)  # never the secret
    assert billing("api-key", "revoke", "shop", env=env).returncode == 0
    assert billing("api-key", "list", env=env).stdout.splitlines()[1].endswith(" UTC")  # when revoked
    nameless = billing("api-key", "revoke", env=env)
    assert nameless.returncode == 1 and "needs the key's NAME" in nameless.stderr
    unreadable = billing("ingest", str(tmp_path / "nope.jsonl"), env=env)
    assert unreadable.returncode == 1 and unreadable.stderr.strip().endswith("nope.jsonl: no such file")
    customer = billing("invoice", "--as-of", "2026-04-02", "--customer", "zulu", env=env)
    assert (customer.returncode, customer.stderr.strip()) == (1, "billing: unknown customer(s): zulu")
    when = billing("invoice", "--as-of", "April 2nd", env=env)
    assert when.returncode == 1 and "not a date: 'April 2nd'" in when.stderr
    naive = billing("invoice", "--as-of", "2026-04-02T00:00:00", env=env)
    assert naive.returncode == 1 and "needs a UTC offset" in naive.stderr
    assert "Traceback" not in naive.stderr  # refused before any flow starts
    future = billing("invoice", "--as-of", "2999-01-01", env=env)
    assert future.returncode == 1 and "is in the future" in future.stderr and "--dry-run" in future.stderr
    for source, message in [
        ("foo://x.jsonl", "cannot read: Protocol not known"),
        ("usage.xlsx", "unsupported format"),
        (str(tmp_path / "none" / "*.jsonl"), "no file matches"),
    ]:
        refused = billing("ingest", source, env=env)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


def test_invoice_show_prints_lines_and_json_in_the_api_shape(configured, tmp_path, event_suite):
    from datetime import datetime, timedelta

    from billing.services.ingest import ingest_records
    from billing.services.invoice_run import invoice_customers
    from billing.sources.catalog_file import load_catalog
    from billing.sources.usage_files import read_chunks
    from billing.store.catalog_versions import save_catalog

    engine = configured
    now = datetime(2026, 4, 5, tzinfo=UTC)
    with engine.begin() as connection:
        stored = save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "f", now)
    for chunk in read_chunks(str(FIXTURES / "three_customers_usage.jsonl")):
        ingest_records(engine, stored.catalog, event_suite, chunk, "f", now)
    invoice_customers(engine, stored, ["bravo"], now, grace=timedelta(hours=24), due_days=30, now=now)
    env = {"BILLING_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    shown = billing("invoices", "show", "INV-000001", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Minimum commitment $60.00: true-up" in shown.stdout
    assert shown.stdout.rstrip().endswith("60.00 USD")
    document = json.loads(billing("invoices", "show", "INV-000001", "--json", env=env).stdout)
    assert set(document) == {
        "number",
        "customer_id",
        "status",
        "currency",
        "period",
        "lines",
        "subtotal",
        "taxes",
        "credits_applied",
        "total",
        "fingerprint",
        "issued_at",
        "issued_on",
        "due_on",
        "kind",
        "corrects",
        "reason",
        "paid_at",
        "voided_at",
    }
    # bravo is in New York: March starts at 00:00 EST and ends at 00:00 EDT
    assert document["period"] == {
        "start": "2026-03-01T00:00:00-05:00",
        "end": "2026-04-01T00:00:00-04:00",
        "first_day": "2026-03-01",
        "last_day": "2026-03-31",
    }
    assert (document["issued_at"], document["issued_on"]) == ("2026-04-01T00:00:00-04:00", "2026-04-01")
    assert (
        "period 1 Mar 2026 – 31 Mar 2026 (America/New_York), issued 1 Apr 2026, due 1 May 2026"
        in shown.stdout
    )
    assert sum(Decimal(line["amount"]) for line in document["lines"]) == Decimal(document["subtotal"])
    listed = billing("invoices", "list", "--customer", "bravo", env=env)
    assert "INV-000001  bravo" in listed.stdout


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from billing.store.database import alembic_config

    return str(ScriptDirectory.from_config(alembic_config()).get_current_head())


# -- a user's mistake is one line, never a traceback ---------------------------------------------


def one_line_refusal(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert message in result.stderr, result.stderr


@pytest.fixture
def fresh_database(tmp_path) -> dict[str, str]:
    env = {"BILLING_DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}"}
    assert billing("db", "upgrade", env=env).returncode == 0
    return env


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoice", "--as-of", "2026-13-01"], "not a date: '2026-13-01'"),
        (["invoice", "--as-of", "0001-01-01"], "as-of '0001-01-01' is out of range"),
        (["invoice", "--as-of", "9999-12-31", "--dry-run"], "use a date from 2000-01-01 to 9998-12-31"),
        (["invoice", "--as-of", "0001-01-01T00:00:00+01:00"], "is out of range"),
        (["invoice", "--as-of", "9999-12-31T23:59:59-01:00", "--dry-run"], "is out of range"),
        (["lifecycle", "scan", "--as-of", "9999-12-31", "--dry-run"], "is out of range"),
        (["lifecycle", "scan", "--as-of", "2026-02-30"], "not a date: '2026-02-30'"),
        (["invoice", "--as-of", ""], "not a date: ''"),  # an empty value is not "now"
        (["lifecycle", "scan", "--as-of", " "], "not a date: ''"),
    ],
)
def test_dates_out_of_reach_are_refused_in_one_line(fresh_database, args, message):
    one_line_refusal(billing(*args, env=fresh_database), message)


def test_unreadable_catalogs_are_refused_in_one_line(tmp_path):
    binary = tmp_path / "catalog.yaml"
    binary.write_bytes(b"currency: USD\n\xd0\x00\xff")
    one_line_refusal(
        billing("catalog", "check", str(binary)), f"{binary}: cannot read the catalog: not UTF-8"
    )
    one_line_refusal(billing("catalog", "check", str(tmp_path)), f"{tmp_path}: cannot read the catalog")
    one_line_refusal(billing("quote", "--catalog", str(binary), "--plan", "p"), "not UTF-8 text")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql+psycopg://nobody@127.0.0.1:1/billing", "cannot use the database: connection failed"),
        ("sqlite:////dev/null/billing.db", "cannot use the database: /dev/null"),
        ("mysql://admin:hunter2@db/billing", "BILLING_DATABASE_URL: must be a sqlite:/// or postgresql"),
    ],
)
def test_a_database_that_cannot_be_used_is_one_line(url, message):
    result = billing("invoices", "list", env={"BILLING_DATABASE_URL": url})
    one_line_refusal(result, message)
    assert "hunter2" not in result.stderr  # a URL's password is never echoed


def test_a_bad_setting_is_named_in_the_products_words(fresh_database):
    result = billing("invoices", "list", env={**fresh_database, "BILLING_INVOICE_GRACE_HOURS": "a day"})
    one_line_refusal(result, "billing: BILLING_INVOICE_GRACE_HOURS: must be a whole number (got 'a day')")


def test_catalog_check_reports_every_problem_at_once(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        EXAMPLE.read_text()
        .replace("interval: monthly", "interval: weekly", 1)
        .replace("metric: storage_gb", "metric: storage_tb", 1)
    )
    result = billing("catalog", "check", str(bad))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    first, second = result.stderr.splitlines()  # one pass: the field error and the reference
    assert first == (
        f"billing: {bad}: plans[0].interval: must be one of 'monthly', 'quarterly' or 'yearly' (got 'weekly')"
    )
    assert second.startswith(f"billing: {bad}: plans[") and ".metric: unknown metric (known: " in second
    assert second.endswith("(got 'storage_tb')")


def test_a_reader_that_closes_stdout_early_ends_the_command_quietly(fresh_database):
    """`billing invoices list | head -1`: the pipe closes before the command writes."""
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "billing.cli.main", "invoices", "list", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **fresh_database},
        cwd=ROOT,
    )
    os.close(write_end)
    os.close(read_end)  # the reader is gone before the first write
    _, stderr = process.communicate(timeout=120)
    assert (process.returncode, stderr) == (141, "")


@pytest.mark.postgres
def test_ctrl_c_while_waiting_on_the_database_is_one_line(postgresql_engine):
    """Interrupted while its query waits on a lock: `billing: interrupted`, status 130."""
    import signal
    import time

    import sqlalchemy as sa

    url = postgresql_engine.url.render_as_string(hide_password=False)
    with postgresql_engine.connect() as locker:
        locker.execute(sa.text("LOCK TABLE invoices IN ACCESS EXCLUSIVE MODE"))
        process = subprocess.Popen(
            [sys.executable, "-m", "billing.cli.main", "invoices", "list"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "BILLING_DATABASE_URL": url},
            cwd=ROOT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal has it
        )
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        for _ in range(600):  # until the command's query waits on the lock
            with postgresql_engine.connect() as watcher:  # a fresh view of pg_stat_activity
                if watcher.execute(waiting).scalar_one():
                    break
            time.sleep(0.1)
        else:
            process.kill()
            pytest.fail(f"the command never waited on the lock: {process.communicate()}")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        locker.rollback()
    assert (process.returncode, stdout, stderr) == (130, "", "billing: interrupted\n")
