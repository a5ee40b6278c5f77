"""API keys: random bearer tokens, stored only as a SHA-256 hash (they carry 256 bits of entropy)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa

from billing.core.errors import BillingError
from billing.store.models import ApiKey

PREFIX = "bk_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(connection: sa.Connection, name: str, now: datetime) -> str:
    """A new key for `name`; the plain key is returned once and never stored."""
    if not name or len(name) > 128:
        raise BillingError("an API key needs a name of 1 to 128 characters")
    if connection.execute(sa.select(ApiKey.id).where(ApiKey.name == name)).first():
        raise BillingError(f"an API key named {name!r} exists already; revoke it or pick another name")
    key = PREFIX + secrets.token_urlsafe(32)
    connection.execute(
        sa.insert(ApiKey).values(name=name, prefix=key[:10], key_hash=_digest(key), created_at=now)
    )
    return key


def revoke_key(connection: sa.Connection, name: str, now: datetime) -> None:
    result = connection.execute(
        sa.update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise BillingError(f"no active API key named {name!r}")


def key_owner(connection: sa.Connection, key: str) -> str | None:
    """The name of the active key, or None for an unknown or revoked one."""
    row = connection.execute(
        sa.select(ApiKey.name).where(ApiKey.key_hash == _digest(key), ApiKey.revoked_at.is_(None))
    ).first()
    return None if row is None else str(row[0])
