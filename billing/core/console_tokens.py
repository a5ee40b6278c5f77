"""Console tokens (SPEC §8): an HMAC-SHA256 signed credential bound to one customer, short-lived.

A token is `c1.<payload>.<signature>`, both parts base64url without padding: the payload is
`<expires at, Unix seconds>:<nonce>:<customer id>` (UTF-8), the signature the HMAC-SHA256 under
the console secret of `c1.<payload>` (the version is signed too). A token is read back only if
its signature matches (`hmac.compare_digest`, on the canonical text: a changed byte anywhere is
refused), its expiry is still ahead and at most `MAX_TTL` ahead (one signed under another
setting is refused too). Any problem is the same `None`: the caller answers one 403 whether a
token is expired, forged, another version or not a token at all.

Pure: the caller brings the secret, the clock and the nonce's random bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION = "c1"
MAX_TTL = timedelta(minutes=60)
MIN_SECRET_LENGTH = 32
NONCE_BYTES = 12
MAX_TOKEN_LENGTH = 2_000  # a customer id of a few hundred characters, and room to spare


@dataclass(frozen=True, slots=True)
class ConsoleGrant:
    """What a valid token grants: one customer's console until `expires_at`."""

    customer_id: str
    expires_at: datetime


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _encode(data) != text:  # only the canonical spelling: no stray or ignored characters
        raise ValueError("not canonical base64url")
    return data


def _signature(secret: str, signed: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), signed.encode("ascii"), hashlib.sha256)
    return _encode(mac.digest())


def sign(secret: str, customer_id: str, expires_at: datetime, nonce: bytes) -> str:
    """A token for `customer_id` until `expires_at` (an aware instant, whole seconds kept)."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"a console secret has at least {MIN_SECRET_LENGTH} characters")
    if not customer_id:
        raise ValueError("a console token is for one customer: the id is empty")
    expires = int(expires_at.timestamp())
    payload = _encode(f"{expires}:{_encode(nonce)}:{customer_id}".encode())
    signed = f"{VERSION}.{payload}"
    return f"{signed}.{_signature(secret, signed)}"


def verify(secret: str, token: str | None, now: datetime) -> ConsoleGrant | None:
    """The grant a token carries, or None for anything else (expired, forged, malformed)."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    version, _, rest = token.partition(".")
    payload, _, given = rest.partition(".")
    if version != VERSION or not payload or not given:
        return None
    expected = _signature(secret, f"{version}.{payload}")
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")):
        return None
    try:
        expires_text, nonce, customer_id = _decode(payload).decode("utf-8").split(":", 2)
        _decode(nonce)
        expires_at = datetime.fromtimestamp(int(expires_text), UTC)
    except (ValueError, binascii.Error, OverflowError, OSError):
        return None  # signed by us, yet unreadable: refused like any other
    if not customer_id or not now < expires_at <= now + MAX_TTL:
        return None
    return ConsoleGrant(customer_id, expires_at)
