"""`billing backfill`: the table on stdout, a dry run unless --apply, one-line refusals."""

from __future__ import annotations

import pytest

from billing.cli.main import main
from tests.conftest import FIXTURES
from tests.e2e.test_cli import billing, fresh_database, one_line_refusal  # noqa: F401 (a fixture)
from tests.flows.test_backfill_flow import late_march_call  # noqa: F401 (a fixture)
from tests.integration.test_backfill import pending

pytestmark = pytest.mark.one_database

WINDOW = ["backfill", "--start", "2026-03-01", "--end", "2026-04-01"]


@pytest.mark.flow
@pytest.mark.usefixtures("prefect_harness")
def test_the_table_shows_each_difference_and_apply_corrects_it_once(late_march_call, capsys):  # noqa: F811
    assert main(WINDOW) == 0
    out = capsys.readouterr().out
    assert out.startswith("backfill (dry run: nothing written): 1 customers, 1 finalized periods re-rated")
    header, row = out.splitlines()[1:3]
    columns = ["customer", "period", "line", "billed", "should be", "difference", "billed on", "action"]
    assert [cell.strip() for cell in header.split("  ") if cell.strip()] == columns
    assert row.split("  ")[0] == "acme"
    for cell in (
        "1 Mar 2026 – 31 Mar 2026",
        "2.00 USD",
        "3.00 USD",
        "1.00 USD",
        "INV-000002",
        "would adjust",
    ):
        assert cell in row
    assert pending(late_march_call) == []

    assert main([*WINDOW, "--customer", "acme", "--apply"]) == 0
    assert "adjustment on the next invoice" in capsys.readouterr().out
    assert main([*WINDOW, "--apply"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "nothing to correct"
    assert len(pending(late_march_call)) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["backfill", "--start", "2026-13-01", "--end", "2026-04-01"], "--start: not a date: '2026-13-01'"),
        (
            ["backfill", "--start", "2026-04-01", "--end", "2026-03-01"],
            "--start 2026-04-01 is not before --end",
        ),
        ([*WINDOW, "--customer", "nobody"], "unknown customer(s): nobody"),
        ([*WINDOW, "--catalog-version", "abc"], "is not a content hash"),
        ([*WINDOW, "--catalog-version", "0123456789"], "no catalog version 0123456789 is stored"),
    ],
)
def test_mistakes_are_one_line_and_exit_1(fresh_database, args, message):  # noqa: F811
    assert (
        billing("catalog", "load", str(FIXTURES / "three_customers.yaml"), env=fresh_database).returncode == 0
    )
    one_line_refusal(billing(*args, env=fresh_database), message)


def test_start_and_end_are_required(fresh_database):  # noqa: F811
    refused = billing("backfill", "--start", "2026-03-01", env=fresh_database)
    assert refused.returncode == 2 and "--end" in refused.stderr
