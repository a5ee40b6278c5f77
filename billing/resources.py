"""The process's long-lived resources, built once from settings: engine, catalog, suite, mailer."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from billing.settings import Settings, get_settings
from billing.store.catalog_versions import StoredCatalog, active_catalog
from billing.store.database import create_engine, ensure_ready

if TYPE_CHECKING:
    from billing.notify.backends import EmailBackend
    from billing.validation.suite import EventSuite


@lru_cache(maxsize=4)
def engine_for(url: str) -> Engine:
    return create_engine(url)


def engine(settings: Settings | None = None) -> Engine:
    """The engine of the configured database, checked to be migrated."""
    url = (settings or get_settings()).database_url
    result = engine_for(url)
    ensure_ready(result)
    return result


def catalog(settings: Settings | None = None) -> StoredCatalog:
    """The active catalog version."""
    with engine(settings).connect() as connection:
        return active_catalog(connection)


@lru_cache(maxsize=1)
def event_suite() -> EventSuite:
    from billing.validation.suite import EventSuite

    return EventSuite()


def mailer(settings: Settings | None = None) -> EmailBackend:
    from billing.notify.backends import backend_from_settings

    return backend_from_settings(settings or get_settings())


def utc_now() -> datetime:
    return datetime.now(UTC)
