"""Commands that do pipeline work: each runs a Prefect flow, so every run shows in the UI.

Everything a user can get wrong (a missing file, an unknown customer, no catalog loaded) is
checked before a flow starts, so it is reported in one line instead of a failed run.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from billing.core.as_of import as_of_instant, check_issuable, parse_as_of
from billing.core.errors import RunIncomplete, SourceError, UnknownCustomer
from billing.runtime import resources
from billing.sources.usage_files import check_readable, expand
from billing.views.tables import invoice_rows, notice_rows, text_table


def prefect_environment() -> None:
    """Prefect's home inside `var/`, no analytics: set before Prefect is first imported."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path("var/prefect").resolve())))
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # the temporary local server can take longer than Prefect's 20 s to start on a busy machine
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def ingest_summary(summary: dict[str, Any]) -> str:
    text = (
        f"{summary['source']}: received {summary['received']} = accepted {summary['accepted']}"
        f" + duplicates {summary['duplicates']} + quarantined {summary['quarantined']}"
        f" (late: {summary['late']})"
    )
    for reason, count in summary["reasons"].items():
        text += f"\n  quarantined {count} x {reason}"
    for failure in summary.get("failed_files", ()):
        text += f"\n  not read: {failure}"
    files = summary.get("files", ())
    if len(files) > 1:
        for part in files:
            if not part["failed_files"]:
                text += (
                    f"\n  {part['source']}: received {part['received']} = accepted {part['accepted']}"
                    f" + duplicates {part['duplicates']} + quarantined {part['quarantined']}"
                )
    return text


def ingest(sources: Sequence[str]) -> str:
    """A source that is one file is checked before any flow starts (a missing file, a wrong
    header: one line, nothing read); in a glob or a folder, a file that cannot be read fails
    alone, as in the flow. Any file not read makes the run incomplete: the summaries on stdout,
    each such file on stderr, exit 1."""
    for source in sources:
        files = expand(source)
        if not files:
            raise SourceError(f"{source}: no file matches")
        if len(files) == 1:
            check_readable(files[0])
    resources.catalog()
    prefect_environment()
    from billing.cli.ingest_progress import progress_on_terminal
    from flows.ingest import ingest_usage

    with progress_on_terminal():  # bars per file on a terminal; the summary is printed either way
        summaries = [ingest_usage(source) for source in sources]
    report = "\n".join(ingest_summary(summary) for summary in summaries)
    not_read = [f"not read: {failure}" for summary in summaries for failure in summary["failed_files"]]
    if not_read:
        raise RunIncomplete(not_read, report)
    return report


def delivered(summary: dict[str, Any]) -> str:
    """What a run's sending did, per channel: `emails sent 3, webhooks sent 3, 1 failed (...)`;
    a failure given up (a refusal, the last try) is said to be, never to be retried."""
    emails = summary["emails"]
    parts = [f"emails sent {emails['sent']}"]
    webhooks = summary.get("webhooks", {"sent": 0, "failed": 0})
    if webhooks["sent"] or webhooks["failed"]:
        parts.append(f"webhooks sent {webhooks['sent']}")
    for_good = emails.get("failed_for_good", 0) + webhooks.get("failed_for_good", 0)
    retried = emails["failed"] + webhooks["failed"] - for_good
    if retried:
        parts.append(f"{retried} failed (kept and retried by the next run)")
    if for_good:
        parts.append(f"{for_good} failed for good (never tried again)")
    held = emails.get("held_back", 0) + webhooks.get("held_back", 0)
    if held:
        parts.append(f"{held} held back untried (the receiver asked to slow down)")
    return ", ".join(parts)


def given_up(summary: dict[str, Any]) -> list[str]:
    """A line for the run's deliveries that failed for good (never tried again: an operator
    must act), none when there are none: the command then exits 1 and says so."""
    channels = [summary.get("emails", {}), summary.get("webhooks", {})]
    lost = sum(counts.get("failed_for_good", 0) for counts in channels)
    if not lost:
        return []
    noun = "delivery" if lost == 1 else "deliveries"
    return [
        f"{lost} {noun} failed for good and will not be tried again: "
        "`billing notifications list --status failed` shows why"
    ]


def _finished(summary: dict[str, Any], text: str) -> str:
    """The run's summary `text`; `RunIncomplete` carrying it when a delivery failed for good."""
    problems = given_up(summary)
    if problems:
        raise RunIncomplete(problems, text)
    return text


def invoice_summary(summary: dict[str, Any]) -> str:
    invoices = summary["invoices"]
    head = (
        f"as of {summary['as_of']}{' (dry run: nothing written)' if summary['dry_run'] else ''}: "
        f"{summary['customers']} customers, {summary['finalized']} invoices finalized, "
        f"{summary['drafts']} still in their grace period (drafts)"
    )
    if not summary["dry_run"]:
        head += "; " + delivered(summary)
    if not invoices:
        return head + "\nnothing due"
    return head + "\n" + text_table(invoice_rows(invoices), right=(4, 5))


def invoice(as_of: str | None, customers: Sequence[str], dry_run: bool) -> str:
    moment: date | datetime | None = parse_as_of(as_of) if as_of is not None else None
    now = resources.utc_now()
    check_issuable(as_of_instant(moment, now), now, dry_run)  # before Prefect starts
    catalog = resources.catalog().catalog
    unknown = [c for c in customers if c not in catalog.customers_by_id]
    if unknown:
        raise UnknownCustomer(f"unknown customer(s): {', '.join(unknown)}")
    if not dry_run:
        resources.mailer()
    prefect_environment()
    from flows.invoices import run_invoices

    try:
        summary = run_invoices(moment, list(customers) or None, dry_run)
    except RunIncomplete as incomplete:  # the summary on stdout, each customer not invoiced on stderr
        report = incomplete.report if isinstance(incomplete.report, dict) else None
        problems = incomplete.problems + (given_up(report) if report else [])
        raise RunIncomplete(problems, report and invoice_summary(report)) from None
    return _finished(summary, invoice_summary(summary))


def lifecycle_summary(summary: dict[str, Any]) -> str:
    """What a scan decided: each notice, to whom, on the customer's day; a dry run's would-be."""
    dry = summary["dry_run"]
    head = f"lifecycle scan as of {summary['as_of']}{' (dry run: nothing written)' if dry else ''}: "
    head += f"{len(summary['due'])} due ({summary['new']} new)"
    head += f", {len(summary['skipped'])} skipped as too late ({summary['new_skipped']} new)"
    if not dry:
        head += "; " + delivered(summary)
    parts = [head]
    for title, listed in (("would send" if dry else "due", summary["due"]), ("skipped", summary["skipped"])):
        if listed:
            parts.append(f"{title}:\n" + text_table(notice_rows(listed)))
    return "\n".join(parts)


def lifecycle_scan(as_of: str | None, dry_run: bool) -> str:
    moment: date | datetime | None = parse_as_of(as_of) if as_of is not None else None
    as_of_instant(moment, resources.utc_now())  # a datetime without offset: refused before Prefect
    resources.catalog_pin()  # no catalog loaded: refused before Prefect
    if not dry_run:
        resources.mailer()
    prefect_environment()
    from flows.lifecycle import scan_lifecycle

    summary = scan_lifecycle(moment, dry_run)
    return _finished(summary, lifecycle_summary(summary))
