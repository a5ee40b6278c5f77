"""Console links (SPEC §8): the long-lived signed link an email carries to one customer's console.

An email is read hours or days after it is sent, so it cannot carry a console token (at most
60 minutes, `console_tokens.MAX_TTL`). It carries `/console/open?customer=ID&expires=UNIX&sig=SIG`
instead: opening it mints a fresh console token and redirects to the console. The link is the
customer id and an expiry in Unix seconds, signed with HMAC-SHA256 under a key derived from the
console secret for links alone (`HMAC(secret, LINK_KEY_LABEL)`): a session token is signed with
the secret itself, over text that starts with `c1.`, so neither signature is ever valid as the
other, nor is any link a token or any token a link.

The signed text is `<expires>\\n<customer id>`: the expiry is canonical decimal digits, so no two
(customer, expiry) pairs sign the same text. A link is accepted only if its signature matches
(`hmac.compare_digest`), its expiry is ahead and at most `max_lifetime` ahead (so shortening the
setting also refuses links signed under a longer one). Any problem is the same `None`.

Pure: the caller brings the secret and the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

OPEN_PATH = "/console/open"
DEFAULT_LIFETIME_DAYS = 30
MAX_LIFETIME_DAYS = 90
LINK_KEY_LABEL = b"billing console link key v1"
MAX_CUSTOMER_LENGTH = 1_000
_SIGNATURE_LENGTH = 43  # a SHA-256 digest in base64url without padding
_MAX_EXPIRES_DIGITS = 12  # Unix seconds up to the year 33658: past it, not a link we signed


def _link_key(secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), LINK_KEY_LABEL, hashlib.sha256).digest()


def _signature(secret: str, customer_id: str, expires: int) -> str:
    signed = f"{expires}\n{customer_id}".encode()
    mac = hmac.new(_link_key(secret), signed, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def link_expiry(now: datetime, lifetime: timedelta) -> int:
    """The expiry (Unix seconds) of a link signed at `now` to work for `lifetime`."""
    if not timedelta(0) < lifetime <= timedelta(days=MAX_LIFETIME_DAYS):
        raise ValueError(f"a console link works for 1 to {MAX_LIFETIME_DAYS} days")
    return int((now + lifetime).timestamp())


def sign_link(secret: str, customer_id: str, expires: int) -> str:
    """The signature of a link for `customer_id` until `expires` (Unix seconds)."""
    if not customer_id:
        raise ValueError("a console link is for one customer: the id is empty")
    return _signature(secret, customer_id, expires)


def verify_link(
    secret: str,
    customer_id: str | None,
    expires: str | None,
    signature: str | None,
    now: datetime,
    max_lifetime: timedelta,
) -> str | None:
    """The customer a link opens, or None for anything else (expired, forged, malformed)."""
    if not customer_id or not expires or not signature:
        return None
    if len(customer_id) > MAX_CUSTOMER_LENGTH or len(signature) != _SIGNATURE_LENGTH:
        return None
    if not (expires.isascii() and expires.isdigit() and len(expires) <= _MAX_EXPIRES_DIGITS):
        return None
    if str(int(expires)) != expires or not signature.isascii():  # one spelling of each expiry
        return None
    try:
        customer_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no customer id has one
        return None
    expected = _signature(secret, customer_id, int(expires))
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
        return None
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    if not now < expires_at <= now + max_lifetime:
        return None
    return customer_id


@dataclass(frozen=True, slots=True)
class ConsoleLink:
    """What an email shows of its console link: the absolute URL, and how many days it works."""

    url: str
    days: int
