"""Console links in emails (SPEC §8): making the signed `/console/open` link, and opening it.

The email channel asks `ConsoleLinks.link` for each email as it sends it (never when the
notification is queued): the link lives in the sent email only, not in the send ledger nor the
notification history, and a retried email gets a fresh one. A link holds no console token: it
is the customer id, an expiry `BILLING_CONSOLE_LINK_DAYS` on, and a signature
(`billing.core.console_links`). `open_link` is what `GET /console/open` does with it: a valid
link for a customer still in the catalog mints a console session like
`POST /v1/customers/{id}/console-sessions` does; anything else is None, one refusal for all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from billing.core.catalog import Catalog
from billing.core.console_links import OPEN_PATH, ConsoleLink, link_expiry, sign_link, verify_link
from billing.services.console_sessions import ConsoleSession, open_session


@dataclass(frozen=True, slots=True)
class ConsoleLinks:
    """Signs console links to `public_url` with the console secret, each working `days`."""

    secret: str
    public_url: str
    days: int

    def __repr__(self) -> str:  # the secret stays out of logs and tracebacks
        return f"ConsoleLinks({self.public_url!r}, days={self.days})"

    def link(self, customer_id: str, now: datetime) -> ConsoleLink:
        expires = link_expiry(now, timedelta(days=self.days))
        query = urlencode(
            {"customer": customer_id, "expires": expires, "sig": sign_link(self.secret, customer_id, expires)}
        )
        return ConsoleLink(f"{self.public_url.rstrip('/')}{OPEN_PATH}?{query}", self.days)


def open_link(
    catalog: Catalog,
    secret: str | None,
    customer_id: str | None,
    expires: str | None,
    signature: str | None,
    *,
    link_days: int,
    ttl_minutes: int,
    public_url: str,
    now: datetime,
) -> ConsoleSession | None:
    """A fresh console session for a valid link's customer; None for anything else (no secret,
    expired, forged, malformed, another customer's signature, a customer gone from the catalog)."""
    if secret is None:
        return None
    opened = verify_link(secret, customer_id, expires, signature, now, timedelta(days=link_days))
    if opened is None or opened not in catalog.customers_by_id:
        return None
    return open_session(catalog, opened, secret, ttl_minutes, public_url, now)
