"""What routes depend on, in one place: settings, the engine, the active catalog, the caller."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from billing.api.rate_limit import RateLimiter, retry_after
from billing.api.request_body import exact_json
from billing.api.verified_keys import VerifiedKeys
from billing.runtime import resources
from billing.runtime.settings import Settings
from billing.store.api_keys import key_owner
from billing.store.catalog_versions import StoredCatalog, active_catalog
from billing.validation.suite import EventSuite  # at run time: FastAPI reads the annotation

__all__ = [
    "api_caller",
    "catalog",
    "engine",
    "event_suite",
    "exact_json",
    "notification_channels",
    "now",
    "settings",
]


async def settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def notification_channels(request: Request) -> tuple[str, ...]:
    """Where a notification the request queues goes: email, and the webhook when one is set."""
    return resources.notification_channels(request.app.state.settings)


async def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


def catalog(db: Annotated[Engine, Depends(engine)]) -> StoredCatalog:
    with db.connect() as connection:
        return active_catalog(connection)


def event_suite() -> EventSuite:
    """The process's one Great Expectations suite (built on first use: GX takes seconds to
    import; `billing serve` builds it before it listens)."""
    return resources.event_suite()


async def now() -> datetime:
    return datetime.now(UTC)


async def api_caller(
    request: Request,
    db: Annotated[Engine, Depends(engine)],
    authorization: Annotated[str | None, Header()] = None,
) -> str:
    """The name of the API key in `Authorization: Bearer <key>`; 401 without a valid one, 429
    past the key's rate limit. A key found active is remembered for a few seconds
    (`verified_keys.KEY_CACHE_SECONDS`), so that most requests make no round trip for it: a
    revocation takes effect within that bound."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(
            401, "missing API key: send 'Authorization: Bearer <key>'", {"WWW-Authenticate": "Bearer"}
        )
    # on the event loop when the key is remembered; its lookup (a round trip) in the thread pool
    keys = verified_keys(request)
    owner = keys.remembered(key.strip())
    if owner is None:
        owner = await run_in_threadpool(keys.owner, key.strip(), lambda plain: _stored_owner(db, plain))
    if owner is None:
        raise HTTPException(401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.wait(owner)
    if wait is not None:
        raise RateLimited(
            f"API key {owner!r} is over its rate limit of {limiter.rate:g} requests a second "
            f"(burst {limiter.burst}): retry after {retry_after(wait)} s",
            {"Retry-After": retry_after(wait)},
        )
    return owner


def verified_keys(request: Request) -> VerifiedKeys:
    """The app's keys verified lately (made on first use; a test may set its own, on a clock
    it moves)."""
    state = request.app.state
    found: VerifiedKeys | None = getattr(state, "verified_keys", None)
    if found is None:
        found = state.verified_keys = VerifiedKeys()
    return found


def _stored_owner(db: Engine, key: str) -> str | None:
    with db.connect() as connection:
        return key_owner(connection, key)


class RateLimited(HTTPException):
    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(429, message, headers)
