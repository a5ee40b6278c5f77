"""API keys: random bearer tokens, stored only as a SHA-256 hash (they carry 256 bits of entropy).

A key is `bk_<id>_<secret>`: `id` is 12 random hex digits, public, and `bk_<id>` is the prefix
stored and listed to tell keys apart; `secret` (43 URL-safe characters) is never stored. The
whole key is hashed, so one indexed lookup by hash finds it, whatever its format. Keys of the
first format (`bk_<secret>`, without an id) keep working by their hash; migration 0013 replaced
their stored prefix, which held seven characters of the secret, by `LEGACY_PREFIX`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from billing.core.errors import BillingError
from billing.store.models import ApiKey

PREFIX = "bk_"
LEGACY_PREFIX = "bk_…"  # the stored prefix of a key made before key ids: it holds no secret
_ID_HEX_DIGITS = 12
_SECRET_BYTES = 32
# Anything a key of either format could be; other text is refused without a database lookup.
_WELL_FORMED = re.compile(r"bk_[A-Za-z0-9_-]{20,120}")


@dataclass(frozen=True)
class KeyListing:
    """What `billing api-key list` shows of a key: never its hash, never its secret."""

    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A new key and its public prefix (`bk_<id>`), which holds no character of its secret."""
    prefix = PREFIX + secrets.token_hex(_ID_HEX_DIGITS // 2)
    return f"{prefix}_{secrets.token_urlsafe(_SECRET_BYTES)}", prefix


def create_key(connection: sa.Connection, name: str, now: datetime) -> str:
    """A new key for `name`; the plain key is returned once and never stored."""
    if not name or len(name) > 128:
        raise BillingError("an API key needs a name of 1 to 128 characters")
    if not name.isprintable() or name != name.strip():
        raise BillingError(
            f"an API key's name is printable text without leading or trailing spaces (got {name!r})"
        )
    if connection.execute(sa.select(ApiKey.id).where(ApiKey.name == name)).first():
        raise BillingError(f"an API key named {name!r} exists already; revoke it or pick another name")
    key, prefix = new_key()
    connection.execute(
        sa.insert(ApiKey).values(name=name, prefix=prefix, key_hash=_digest(key), created_at=now)
    )
    return key


def revoke_key(connection: sa.Connection, name: str, now: datetime) -> None:
    result = connection.execute(
        sa.update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).values(revoked_at=now)
    )
    if result.rowcount == 0:
        raise BillingError(f"no active API key named {name!r}")


def list_keys(connection: sa.Connection) -> list[KeyListing]:
    """Every key, active and revoked, oldest first."""
    query = sa.select(ApiKey.name, ApiKey.prefix, ApiKey.created_at, ApiKey.revoked_at).order_by(
        ApiKey.created_at, ApiKey.id
    )
    return [KeyListing(*row) for row in connection.execute(query)]


def key_owner(connection: sa.Connection, key: str) -> str | None:
    """The name of the active key, or None for an unknown, revoked or malformed one."""
    if not _WELL_FORMED.fullmatch(key):
        return None
    row = connection.execute(
        sa.select(ApiKey.name).where(ApiKey.key_hash == _digest(key), ApiKey.revoked_at.is_(None))
    ).first()
    return None if row is None else str(row[0])
