"""Outgoing webhooks: a notification as signed JSON, the Standard Webhooks way.

Each request is a POST of `{"type": KIND, "timestamp": ISO 8601, "data": {...}}` with three
headers (https://www.standardwebhooks.com): `webhook-id`, the notification's ledger key (the
same on every retry, so a receiver drops a repeat); `webhook-timestamp`, the real time of this
send in Unix seconds (receivers refuse old ones: a replay guard); `webhook-signature`,
`v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the secret. Signing is the
`standardwebhooks` package's own `Webhook.sign`, so what a receiver verifies with that package
(or any other implementation) is what was signed here.

A 2xx answer is delivered. 408, 429, a 5xx, a timeout or a network failure may pass later
(`DeliveryError.retryable`); any other answer is a refusal of the message itself. Errors name
the receiver by scheme, host and port only (a URL can carry a token) and never hold the secret.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from billing.core.events import dumps
from billing.notify.backends import DeliveryError, retry_after

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
MIN_KEY_BYTES = 24
_SNIPPET_CHARS = 200


def check_secret(secret: str) -> str:
    """The secret, or ValueError saying what is wrong with it (never the secret itself)."""
    secret = secret.strip()
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX!r} followed by the key in base64")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the key after {SECRET_PREFIX!r} is not valid base64") from None
    if len(key) < MIN_KEY_BYTES:  # the specification's lower bound
        raise ValueError(f"the key after {SECRET_PREFIX!r} must be at least {MIN_KEY_BYTES} bytes")
    return secret


def check_url(url: str) -> str:
    """The URL, or ValueError if it is not an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return url


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: what an error message may show of it."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One notification as a webhook: `key` is its ledger key (the `webhook-id`), `decided_at`
    when the ledger recorded it (the body's timestamp), `data` its JSON-able fields."""

    key: str
    kind: str
    decided_at: datetime
    data: Mapping[str, Any]


def webhook_body(event: WebhookEvent) -> str:
    """The request body, the text that is signed and sent: canonical JSON (sorted keys, no
    spaces, numbers exact: the ledger's contexts hold them as Decimal)."""
    document = {"type": event.kind, "timestamp": event.decided_at.isoformat(), "data": dict(event.data)}
    return dumps(document)


def _now() -> datetime:
    return datetime.now(UTC)


class WebhookSender:
    """POSTs signed events to one URL. `clock` is the real time (the signature's timestamp);
    `timeout` bounds each request in seconds; `transport` is for tests."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        timeout: float = 10.0,
        clock: Callable[[], datetime] = _now,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        try:
            self.url = check_url(url)
            self._signer = Webhook(check_secret(secret))
        except ValueError as error:
            raise DeliveryError(f"cannot send webhooks: {error}") from None
        self.timeout = timeout
        self._clock = clock
        self._client = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"WebhookSender(url={origin(self.url)!r})"

    def headers(self, event: WebhookEvent, body: str) -> dict[str, str]:
        sent_at = self._clock().astimezone(UTC).replace(microsecond=0)
        return {
            "content-type": "application/json",
            "webhook-id": event.key,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": self._signer.sign(event.key, sent_at, body),
        }

    def send(self, event: WebhookEvent) -> str:
        """POST `event`; return its webhook-id, or raise `DeliveryError` (one line, `retryable`
        set for what may pass later)."""
        body = webhook_body(event)
        where = f"webhook {event.key!r} to {origin(self.url)}"
        try:
            response = self._client.post(self.url, content=body.encode(), headers=self.headers(event, body))
        except httpx.TimeoutException:
            raise DeliveryError(f"{where}: no answer within {self.timeout:g}s", retryable=True) from None
        except httpx.HTTPError as error:
            detail = " ".join(str(error).split()) or type(error).__name__
            raise DeliveryError(f"{where}: cannot reach the receiver: {detail}", retryable=True) from None
        status = response.status_code
        if 200 <= status < 300:
            return event.key
        retryable = status in (408, 429) or status >= 500
        snippet = " ".join(response.text.split())
        if len(snippet) > _SNIPPET_CHARS:
            snippet = snippet[: _SNIPPET_CHARS - 1] + "…"
        verdict = "answered" if retryable else "refused with"
        raise DeliveryError(
            f"{where}: the receiver {verdict} HTTP {status} {response.reason_phrase}".rstrip()
            + (f": {snippet}" if snippet else ""),
            status=status,
            retryable=retryable,
            retry_after=retry_after(response.headers.get("retry-after"), self._clock())
            if retryable
            else None,
        )

    def close(self) -> None:
        self._client.close()
