"""Catalog versions: immutable documents keyed by content hash, and the active one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa

from billing.core.catalog import Catalog, catalog_from_document
from billing.core.errors import BillingError, CatalogError
from billing.store.database import lock_billing, one_of
from billing.store.lifecycle_calendar import rebuild_calendar
from billing.store.models import CatalogVersion, ContractRow, CustomerRow
from billing.store.rollups import maintain_catalog
from billing.store.unmeterable import unmeterable_events


class NoCatalog(BillingError):
    code = "no_catalog"


class UnknownCatalogVersion(BillingError):
    code = "unknown_catalog_version"


VERSION_PREFIX = re.compile(r"[0-9a-f]{8,64}")


@dataclass(frozen=True, slots=True)
class StoredCatalog:
    id: int
    content_hash: str
    catalog: Catalog
    created: bool = False


def save_catalog(connection: sa.Connection, catalog: Catalog, source: str, now: datetime) -> StoredCatalog:
    """Store the catalog as a version (once per content hash) and make it the active one; the
    usage rollups of any metric definition it brings are built from the stored events, and the
    lifecycle calendar (each date-kind notice's next occurrence) is laid out from it.

    A catalog whose numeric metrics could not aggregate events already stored (text where a
    number is needed: ingest checked them against the catalog of their day) is refused with
    `CatalogError`, under the billing lock so that no ingest adds such an event meanwhile."""
    lock_billing(connection)
    problems = unmeterable_events(connection, catalog)
    if problems:
        raise CatalogError([f"{source}: {problem}" for problem in problems])
    existing = connection.execute(
        sa.select(CatalogVersion.id).where(CatalogVersion.content_hash == catalog.version)
    ).scalar_one_or_none()
    if existing is None:
        version_id = connection.execute(
            sa.insert(CatalogVersion)
            .values(
                content_hash=catalog.version,
                document=catalog.document,
                source=source,
                loaded_at=now,
                activated_at=now,
            )
            .returning(CatalogVersion.id)
        ).scalar_one()
    else:
        version_id = existing
        connection.execute(
            sa.update(CatalogVersion).where(CatalogVersion.id == version_id).values(activated_at=now)
        )
    _project_customers(connection, catalog, version_id)
    maintain_catalog(connection, catalog.metrics, now)
    rebuild_calendar(connection, catalog, version_id, now)
    return StoredCatalog(version_id, catalog.version, catalog, created=existing is None)


def _project_customers(connection: sa.Connection, catalog: Catalog, version_id: int) -> None:
    """Customers and contracts as tables, rewritten from the active catalog (set-based: one
    array parameter for the ids kept, one statement per batch of rows, so that a catalog of a
    hundred thousand customers is neither over PostgreSQL's 65,535 parameters nor as slow as
    one statement per customer)."""
    connection.execute(sa.delete(ContractRow))
    ids = [c.id for c in catalog.customers]
    connection.execute(sa.delete(CustomerRow).where(sa.not_(one_of(connection, CustomerRow.id, ids))))
    stored = set(connection.scalars(sa.select(CustomerRow.id)))
    rows = [
        {
            "customer_id": customer.id,
            "name": customer.display_name,
            "email": customer.email,
            "timezone": customer.timezone,
            "catalog_version_id": version_id,
        }
        for customer in catalog.customers
    ]
    updates = [row for row in rows if row["customer_id"] in stored]
    if updates:
        table = cast(sa.Table, CustomerRow.__table__)
        connection.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("customer_id"))
            .values({k: sa.bindparam(k) for k in ("name", "email", "timezone", "catalog_version_id")}),
            updates,
        )
    inserts = [{"id": row.pop("customer_id"), **row} for row in rows if row["customer_id"] not in stored]
    if inserts:
        connection.execute(sa.insert(CustomerRow), inserts)
    contracts = [
        {
            "customer_id": customer.id,
            "position": index,
            "plan_code": contract.plan,
            "starts_on": contract.starts_on,
            "ends_on": contract.ends_on,
            "auto_renew": contract.auto_renew,
            "term_months": contract.term_months,
            "terms": contract.model_dump(mode="json", include={"overrides", "credits"}),
        }
        for customer in catalog.customers
        for index, contract in enumerate(customer.contracts)
    ]
    if contracts:
        connection.execute(sa.insert(ContractRow), contracts)


@dataclass(frozen=True, slots=True)
class CatalogPin:
    """A stored version named, not parsed: what a run pins when it may not need the catalog."""

    id: int
    content_hash: str


# built once: every API request reads it
_ACTIVE_VERSION = (
    sa.select(CatalogVersion.id, CatalogVersion.content_hash)
    .order_by(CatalogVersion.activated_at.desc(), CatalogVersion.id.desc())
    .limit(1)
)


def active_version(connection: sa.Connection) -> CatalogPin:
    """The id and hash of the catalog most recently loaded; `NoCatalog` before any."""
    row = connection.execute(_ACTIVE_VERSION).first()
    if row is None:
        raise NoCatalog("no catalog loaded yet: run `billing catalog load FILE`")
    return CatalogPin(row.id, row.content_hash)


def active_catalog(connection: sa.Connection) -> StoredCatalog:
    """The catalog most recently loaded; `NoCatalog` before any."""
    pin = active_version(connection)
    return StoredCatalog(pin.id, pin.content_hash, _parsed(connection, pin.content_hash))


def catalog_version(connection: sa.Connection, version_id: int) -> StoredCatalog:
    """The stored version `version_id`, whichever is active now: a run pins the version it
    started with, so a `catalog load` meanwhile never splits the run across two catalogs."""
    content_hash = connection.execute(
        sa.select(CatalogVersion.content_hash).where(CatalogVersion.id == version_id)
    ).scalar_one_or_none()
    if content_hash is None:
        raise NoCatalog(f"no catalog version {version_id} is stored")
    return StoredCatalog(version_id, content_hash, _parsed(connection, content_hash))


def catalog_version_named(connection: sa.Connection, prefix: str) -> StoredCatalog:
    """The stored version whose content hash starts with `prefix` (8 hex digits or more, as
    `billing catalog load` prints it, in either case); `UnknownCatalogVersion` for none or
    several."""
    prefix = prefix.strip().lower()
    if not VERSION_PREFIX.fullmatch(prefix):
        raise UnknownCatalogVersion(
            f"catalog version {prefix!r} is not a content hash: give 8 or more of its hex digits"
        )
    rows = connection.execute(
        sa.select(CatalogVersion.id, CatalogVersion.content_hash)
        .where(CatalogVersion.content_hash.startswith(prefix, autoescape=True))
        .limit(2)
    ).all()
    if not rows:
        raise UnknownCatalogVersion(f"no catalog version {prefix} is stored")
    if len(rows) > 1:
        raise UnknownCatalogVersion(f"catalog version {prefix} is ambiguous: give more of its digits")
    return StoredCatalog(rows[0].id, rows[0].content_hash, _parsed(connection, rows[0].content_hash))


# A version never changes, so its parsed catalog is kept by content hash: a task that loads
# its run's version reads one short row, and parses the document only the first time.
_PARSED_VERSIONS = 8
_parsed_by_hash: dict[str, Catalog] = {}


def _parsed(connection: sa.Connection, content_hash: str) -> Catalog:
    catalog = _parsed_by_hash.get(content_hash)
    if catalog is None:
        document = connection.execute(
            sa.select(CatalogVersion.document).where(CatalogVersion.content_hash == content_hash)
        ).scalar_one()
        catalog = catalog_from_document(document)
        while len(_parsed_by_hash) >= _PARSED_VERSIONS:
            _parsed_by_hash.pop(next(iter(_parsed_by_hash)), None)
        _parsed_by_hash[content_hash] = catalog
    return catalog
