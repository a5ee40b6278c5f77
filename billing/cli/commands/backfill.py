"""`billing backfill`: runs the backfill flow and prints what it found, as its artifact shows it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from billing.cli.commands.pipeline import prefect_environment
from billing.core.errors import BillingError, UnknownCustomer
from billing.runtime import resources
from billing.views.tables import BACKFILL_AMOUNTS, backfill_headline, backfill_rows, text_table


class BadDate(BillingError):
    code = "bad_date"


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadDate(f"{option}: not a date: {text!r} (expected YYYY-MM-DD)") from None


def backfill(start: str, end: str, customers: Sequence[str], catalog_version: str | None, apply: bool) -> str:
    """A dry run unless `apply`. Every mistake a user can make is refused before Prefect starts."""
    first, until = parse_day(start, "--start"), parse_day(end, "--end")
    if first >= until:
        raise BadDate(f"--start {first} is not before --end {until}: the window holds no day")
    catalog = resources.catalog().catalog
    unknown = [c for c in customers if c not in catalog.customers_by_id]
    if unknown:
        raise UnknownCustomer(f"unknown customer(s): {', '.join(unknown)}")
    if catalog_version:
        resources.named_catalog(catalog_version)
    prefect_environment()
    from flows.backfill import backfill as run_backfill

    report = run_backfill(first, until, list(customers) or None, catalog_version, not apply)
    head = backfill_headline(report)
    if not report.lines:
        return head + "\nnothing to correct"
    return head + "\n" + text_table(backfill_rows(report.lines, report.dry_run), right=BACKFILL_AMOUNTS)
