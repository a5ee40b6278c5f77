"""Database, catalog, API-key and invoice-reading commands: quick, no Prefect involved."""

from __future__ import annotations

import json
import sys
from typing import Any

from sqlalchemy.orm import Session

from billing.core.catalog import Catalog
from billing.core.errors import BillingError, CatalogError
from billing.core.money import format_amount
from billing.runtime.settings import get_settings
from billing.sources.catalog_file import load_catalog
from billing.views.documents import invoice_document
from billing.views.tables import text_table


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
    from billing.store.metering_sql import unmeterable_events

    catalog = load_catalog(path)
    with resources.engine().begin() as connection:
        problems = unmeterable_events(connection, catalog)
        if problems:
            raise CatalogError([f"{path}: {problem}" for problem in problems])
        stored = save_catalog(connection, catalog, path, resources.utc_now())
    state = "stored as a new version" if stored.created else "already stored; made active again"
    return f"{path}: {describe_catalog(catalog)}; {state}"


def api_key(action: str, name: str) -> str:
    from billing.runtime import resources
    from billing.store.api_keys import create_key, revoke_key

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
        period = f"{i.period_start.date()}..{i.period_end.date()}"
        total = f"{format_amount(i.total, i.currency)} {i.currency.code}"
        rows.append([i.number or "(draft)", i.customer_id, period, i.status, total])
    return text_table(rows, right=(4,))


def invoices_show(number: str, as_json: bool) -> str:
    from billing.runtime import resources
    from billing.store.invoice_records import load_invoices

    with Session(resources.engine()) as session:
        found = load_invoices(session, number=number)
    if not found:
        raise BillingError(f"no invoice numbered {number!r}")
    invoice = found[0]
    document = invoice_document(invoice)
    if as_json:
        return json.dumps(document)
    currency = invoice.currency
    rows: list[list[Any]] = [["description", "quantity", "amount"]]
    rows += [[line["description"], line["quantity"], line["amount"]] for line in document["lines"]]
    rows.append(["subtotal", "", document["subtotal"]])
    rows.append(["credits applied", "", format_amount(-invoice.credits_applied, currency)])
    rows.append(["total", "", f"{document['total']} {currency.code}"])
    head = (
        f"Invoice {invoice.number} for {invoice.customer_id} ({invoice.status})\n"
        f"period {document['period']['start']} .. {document['period']['end']}, "
        f"issued {document['issued_at']}, due {document['due_on']}\n"
    )
    return head + text_table(rows, right=(1, 2))
