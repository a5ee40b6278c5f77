"""`billing demo`: the whole pipeline on the embedded database, printing what it did.

Schema, example catalog, a month of synthetic usage (mistakes included), then the three flows
through Prefect: ingest + validate, rate + invoice (as of the month's end plus the grace
period, so invoices finalize and are emailed to the outbox), and the lifecycle scan. Running it
again changes nothing: events are duplicates, invoices are final, reminders were sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from billing.runtime.settings import get_settings

DEMO_CATALOG = Path("config/catalog.example.yaml")
DEMO_USAGE = Path("var/demo/usage-2026-10.jsonl")
DEMO_AS_OF = "2026-11-02"  # the month closed on Nov 1 (local time); 24 h of grace have passed


def run_demo(echo: Callable[[str], None]) -> None:
    from billing.cli.commands import admin, pipeline
    from billing.cli.demo_data import write_demo_usage
    from billing.sources.catalog_file import load_catalog

    settings = get_settings()
    echo("== Usage billing demo ==")
    echo(f"database: {settings.database_url}: {admin.db_upgrade()}")
    echo(f"catalog: {admin.catalog_load(str(DEMO_CATALOG))}")
    usage = write_demo_usage(load_catalog(DEMO_CATALOG), DEMO_USAGE)
    echo(
        f"usage: wrote {usage.path}: {usage.events} events for October 2026, plus on purpose "
        f"{usage.duplicates} repeats, {usage.conflicts} conflicting ids and {usage.bad_rows} bad rows"
    )
    echo("\n-- ingest (flow ingest-usage) --")
    echo(pipeline.ingest([str(usage.path)]))
    echo(f"\n-- invoices (flow run-invoices, as of {DEMO_AS_OF}) --")
    echo(pipeline.invoice(DEMO_AS_OF, [], dry_run=False))
    echo(f"\n-- lifecycle (flow scan-lifecycle, as of {DEMO_AS_OF}) --")
    echo(pipeline.lifecycle_scan(DEMO_AS_OF, dry_run=False))
    outbox = settings.outbox_dir if settings.email_backend == "outbox" else None
    if outbox is not None:
        count = len(list(Path(outbox).glob("*.eml")))
        echo(f"\nemails: {count} .eml files in {outbox}/ (invoices and reminders; open one in a mail client)")
    echo(_next_steps())


def _next_steps() -> str:
    return f"""
Next:
  .venv/bin/billing invoices list                      # the invoices just issued
  .venv/bin/billing invoices show INV-000001           # one invoice, line by line (--json for the API shape)
  .venv/bin/billing notifications list --customer oscorp   # what it was told, by which channel, when
  .venv/bin/billing quote --catalog {DEMO_CATALOG} --plan pro \\
       --usage api_calls=12000 storage_gb=80 active_users=12
  .venv/bin/billing api-key create demo-$(date +%s)    # prints a key once; then:
  .venv/bin/billing serve &                             # http://127.0.0.1:8000/docs
  curl -s -X POST http://127.0.0.1:8000/v1/customers/acme/preview \\
       -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \\
       -d '{{"mode": "merge", "events": [{{"event_type": "api_call"}}]}}'
  PREFECT_HOME=var/prefect .venv/bin/prefect server start   # every run above, in the Prefect UI"""
