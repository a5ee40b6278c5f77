"""Database, catalog, API-key and invoice-reading commands: quick, no Prefect involved."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from billing.core.catalog import Catalog
from billing.core.errors import BillingError, UnknownInvoice
from billing.core.local_days import format_day, local_day, local_days
from billing.core.money import format_amount
from billing.runtime.settings import get_settings
from billing.sources.catalog_file import load_catalog
from billing.views.documents import invoice_document
from billing.views.tables import text_table

if TYPE_CHECKING:
    from billing.store.api_keys import KeyListing


def db_upgrade() -> str:
    from billing.runtime.resources import engine_for
    from billing.store.database import upgrade

    url = get_settings().database_url
    revision = upgrade(engine_for(url))
    return f"database at revision {revision}"


def describe_catalog(catalog: Catalog) -> str:
    return (
        f"{len(catalog.metrics)} metrics, {len(catalog.plans)} plans, "
        f"{len(catalog.customers)} customers, currency {catalog.currency}, version {catalog.version[:12]}"
    )


def catalog_check(path: str) -> str:
    return f"{path}: valid: {describe_catalog(load_catalog(path))}"


def catalog_load(path: str) -> str:
    from billing.runtime import resources
    from billing.store.catalog_versions import save_catalog

    catalog = load_catalog(path)
    with resources.engine().begin() as connection:  # refuses a catalog stored events defeat
        stored = save_catalog(connection, catalog, path, resources.utc_now())
    state = "stored as a new version" if stored.created else "already stored; made active again"
    return f"{path}: {describe_catalog(catalog)}; {state}"


def api_key(action: str, name: str | None) -> str:
    from billing.runtime import resources
    from billing.store.api_keys import create_key, list_keys, revoke_key

    if action == "list":
        with resources.engine().connect() as connection:
            return api_key_table(list_keys(connection))
    if not name:
        raise BillingError(f"`billing api-key {action}` needs the key's NAME")
    if action == "revoke":
        with resources.engine().begin() as connection:
            revoke_key(connection, name, resources.utc_now())
        return f"revoked API key {name!r}"
    with resources.engine().begin() as connection:
        key = create_key(connection, name, resources.utc_now())
    # the key alone on stdout, so that `KEY=$(billing api-key create shop)` holds just the key
    print(
        f"API key {name!r} created; shown once: store it now, send it as 'Authorization: Bearer <key>'",
        file=sys.stderr,
    )
    return key


def api_key_table(keys: list[KeyListing]) -> str:
    """Name, public prefix, created, revoked: what tells keys apart, never a hash or a secret."""
    if not keys:
        return "no API keys: create one with `billing api-key create NAME`"
    rows: list[list[Any]] = [["name", "prefix", "created", "revoked"]]
    for key in keys:
        revoked = "-" if key.revoked_at is None else _utc_minute(key.revoked_at)
        rows.append([key.name, key.prefix, _utc_minute(key.created_at), revoked])
    return text_table(rows)


def _utc_minute(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def invoices_list(customer_id: str | None, as_json: bool) -> str:
    from billing.runtime import resources
    from billing.store.invoice_records import load_invoices

    with Session(resources.engine()) as session:
        invoices = load_invoices(session, customer_id=customer_id)
    if as_json:
        return json.dumps([invoice_document(i) for i in invoices])
    if not invoices:
        return "no invoices"
    rows: list[list[Any]] = [["number", "customer", "period", "status", "total"]]
    for i in invoices:
        period = str(local_days(i.period_start, i.period_end, ZoneInfo(i.timezone)))
        total = f"{format_amount(i.total, i.currency)} {i.currency.code}"
        rows.append([i.number or "(draft)", i.customer_id, period, i.status, total])
    return text_table(rows, right=(4,))


def invoices_show(number: str, as_json: bool) -> str:
    from billing.runtime import resources
    from billing.store.invoice_records import load_invoices

    with Session(resources.engine()) as session:
        found = load_invoices(session, number=number)
    if not found:
        raise UnknownInvoice.numbered(number)
    invoice = found[0]
    document = invoice_document(invoice)
    if as_json:
        return json.dumps(document)
    currency = invoice.currency
    tz = ZoneInfo(invoice.timezone)
    rows: list[list[Any]] = [["description", "period", "quantity", "amount"]]
    for line, shown in zip(invoice.lines, document["lines"], strict=True):
        days = "" if line.start is None or line.end is None else str(local_days(line.start, line.end, tz))
        rows.append([shown["description"], days, shown["quantity"], shown["amount"]])
    rows.append(["subtotal", "", "", document["subtotal"]])
    rows += [[f"{tax['name']} {tax['rate']}%", "", "", tax["amount"]] for tax in document["taxes"]]
    rows.append(["credits applied", "", "", format_amount(-invoice.credits_applied, currency)])
    rows.append(["total", "", "", f"{document['total']} {currency.code}"])
    issued = "-" if invoice.issued_at is None else format_day(local_day(invoice.issued_at, tz))
    due = "-" if invoice.due_on is None else format_day(invoice.due_on)
    title = (
        f"Credit note {invoice.number} for invoice {invoice.corrects}"
        if invoice.kind == "credit_note"
        else (f"Invoice {invoice.number}")
    )
    head = (
        f"{title} for {invoice.customer_id} ({invoice.status})\n"
        f"period {local_days(invoice.period_start, invoice.period_end, tz)} ({invoice.timezone}), "
        f"issued {issued}, due {due}\n"
    )
    return head + text_table(rows, right=(2, 3))


def invoices_pay(number: str) -> str:
    from billing.runtime import resources
    from billing.services.invoice_states import pay

    outcome = pay(resources.engine(), number, resources.utc_now())
    paid = outcome.invoice.paid_at
    when = "" if paid is None else f" on {format_day(local_day(paid, ZoneInfo(outcome.invoice.timezone)))}"
    return f"{number} paid{when}" if outcome.changed else f"{number} is already paid{when}; nothing changed"


def invoices_void(number: str) -> str:
    """Void, issue the credit note, then send the pending emails (its own among them); an email
    that cannot go now stays pending and goes with the next run."""
    from billing.runtime import resources
    from billing.services.invoice_states import void
    from billing.services.notification_delivery import deliver_all

    settings = get_settings()
    senders = resources.channel_senders(settings)  # misconfigured: refused before anything changes
    channels = resources.notification_channels(settings)
    outcome = void(resources.engine(), number, resources.utc_now(), channels)
    credit_note = outcome.credit_note
    cn = "" if credit_note is None else f"; credit note {credit_note.number}"
    if not outcome.changed:
        return f"{number} is already void{cn}; nothing changed"
    printed = credit_note is None or _printed(credit_note.number)  # its email waits for its PDF
    report = deliver_all(resources.engine(), senders, resources.utc_now)
    failed = not printed or any(
        d.channel == "email" and d.key.startswith("credit_note_issued/") for d in report.failed
    )
    total = (
        ""
        if credit_note is None
        else f" ({format_amount(credit_note.total, credit_note.currency)} {credit_note.currency.code})"
    )
    emailed = "its email stays pending and goes with the next run" if failed else "emailed"
    if outcome.unmailed:
        emailed = f"not emailed ({outcome.unmailed})"
    return f"{number} void{cn} issued{total}, {emailed}"


def _printed(number: str | None) -> bool:
    """Render and store a new credit note's PDF now; False if it could not be (the next run's
    document step renders it, and its email goes then)."""
    from billing.runtime import resources
    from billing.services.invoice_documents import document_pdf

    if number is None:
        return False
    try:
        document_pdf(resources.engine(), number, resources.utc_now())
    except Exception as error:  # a printing failure must not hide that the void is done
        print(f"warning: the PDF of {number} could not be rendered now: {error}", file=sys.stderr)
        return False
    return True


def write_invoice_document(number: str, *, pdf: str | None = None, html: str | None = None) -> str | None:
    """Write the invoice's PDF (the stored one, as emailed) or HTML page to a file, or stdout."""
    from billing.runtime import resources
    from billing.services.invoice_documents import document_html, document_pdf

    option, target = ("--pdf", pdf) if pdf is not None else ("--html", html)
    if not target:
        raise BillingError(f"{option} needs a FILE to write ('-': stdout)")
    if pdf is not None:
        data = document_pdf(resources.engine(), number, resources.utc_now())
    else:
        data = document_html(resources.engine(), number).encode("utf-8")
    if target == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return None
    try:
        with open(target, "wb") as handle:
            handle.write(data)
    except OSError as error:
        raise BillingError(f"cannot write {target}: {error.strerror or error}") from None
    return f"wrote {target} ({len(data):,} bytes)"
