"""Console sessions (SPEC §8): a URL with a signed token for one customer's console, and reading
a token back. The API's `POST /v1/customers/{id}/console-sessions` and `billing console-url`
both mint here; the console's routes check every request's token here.

Without a console secret the console is off: minting is `ConsoleDisabled` (naming the setting),
and no token is ever valid.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from billing.core.catalog import Catalog
from billing.core.console_tokens import MAX_TTL, NONCE_BYTES, ConsoleGrant, sign, verify
from billing.core.errors import BillingError, UnknownCustomer


class ConsoleDisabled(BillingError):
    code = "console_disabled"


DISABLED_MESSAGE = (
    "the console is off: set BILLING_CONSOLE_SECRET (at least 32 characters, e.g. "
    "`openssl rand -hex 32`) to sign console links"
)


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    url: str
    token: str
    expires_at: datetime


def open_session(
    catalog: Catalog,
    customer_id: str,
    secret: str | None,
    ttl_minutes: int,
    public_url: str,
    now: datetime,
) -> ConsoleSession:
    """A console URL for a customer of the catalog, valid for `ttl_minutes` (at most 60)."""
    if secret is None:
        raise ConsoleDisabled(DISABLED_MESSAGE)
    if customer_id not in catalog.customers_by_id:
        raise UnknownCustomer.named(customer_id)
    ttl = min(timedelta(minutes=ttl_minutes), MAX_TTL)
    expires_at = (now + ttl).replace(microsecond=0)
    token = sign(secret, customer_id, expires_at, secrets.token_bytes(NONCE_BYTES))
    return ConsoleSession(console_url(public_url, token), token, expires_at)


def console_url(public_url: str, token: str, path: str = "/console") -> str:
    return f"{public_url.rstrip('/')}{path}?token={quote(token, safe='')}"


def granted(catalog: Catalog, secret: str | None, token: str | None, now: datetime) -> ConsoleGrant | None:
    """The grant of a valid token for a customer still in the catalog; None for anything else."""
    if secret is None:
        return None
    grant = verify(secret, token, now)
    if grant is None or grant.customer_id not in catalog.customers_by_id:
        return None
    return grant
