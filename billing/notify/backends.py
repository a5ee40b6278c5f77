"""Email delivery backends behind one small interface.

A notification is rendered into an `EmailMessage` and handed to an `EmailBackend`, which
delivers it and returns the provider's message id, or raises `DeliveryError` with a one-line
message. Two backends exist:

* `billing.notify.outbox.OutboxBackend` writes one RFC 5322 `.eml` file per message into a
  directory (the default; nothing leaves the machine), named after the message's idempotency
  key so a re-send overwrites the same file;
* `billing.notify.sendgrid_mail.SendGridBackend` posts the message to SendGrid's v3
  `mail/send` endpoint.

Every message carries an idempotency `key`; it names the outbox file and travels with the
message as the `X-Billing-Key` header and the `billing_key` SendGrid custom arg, so a provider
or a mailbox can recognise a duplicate. API keys are never logged nor put in an error message.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from billing.core.errors import BillingError

KEY_HEADER = "X-Billing-Key"
"""The header carrying a message's idempotency key (outbox files and SendGrid alike)."""

KEY_CUSTOM_ARG = "billing_key"
"""The SendGrid custom arg carrying a message's idempotency key (shows up in event webhooks)."""

_MIME_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")


class DeliveryError(BillingError):
    """An email or a webhook that could not be delivered; the message says why, on one line.

    `status` is the provider's (or the webhook receiver's) HTTP status when there was one (None
    for a network failure, a timeout or a message refused before sending); `retryable` says
    whether trying the same message again later may succeed (network trouble, 408, 429, 5xx);
    `retry_after` how long the receiver asked to wait before the next try (its `Retry-After`).
    """

    code = "delivery_failed"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


_LONGEST_SECONDS = 10**7  # past any wait a retry honours: a huge number is not an overflow


def retry_after(value: str | None, now: datetime | None = None) -> timedelta | None:
    """The wait a `Retry-After` header asks for (RFC 9110: seconds, or an HTTP-date); None when
    there is none or it cannot be read."""
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return timedelta(seconds=min(int(text), _LONGEST_SECONDS))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return max(when - (now or datetime.now(UTC)), timedelta(0))


@dataclass(frozen=True)
class Attachment:
    """A file attached to an email: its name as the recipient sees it, its bytes, its MIME type."""

    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class EmailMessage:
    """One rendered email, ready for a backend.

    `key` is the idempotency key (for example "invoice_issued/acme/INV-000001"): the same key
    means the same email, so backends use it to name files and to let a provider dedupe.
    `text` and `html` are the two alternative bodies; an empty one is left out.
    """

    to: str
    subject: str
    text: str
    html: str
    sender: str
    key: str
    attachments: tuple[Attachment, ...] = ()


class EmailBackend(Protocol):
    """Anything that can deliver an `EmailMessage`."""

    def send(self, message: EmailMessage) -> str:
        """Deliver `message`; return the provider's message id, or raise `DeliveryError`."""
        ...


# --------------------------------------------------------------------------------------------
# Shared validation


def _one_line(value: str, what: str, key: str) -> str:
    value = value.strip()
    if "\r" in value or "\n" in value:
        raise DeliveryError(f"email {key!r}: the {what} contains a line break")
    return value


def _address(value: str, what: str, key: str) -> str:
    value = _one_line(value, what, key)
    _, addr = email.utils.parseaddr(value)
    if "@" not in addr:
        raise DeliveryError(f"email {key!r}: the {what} {value!r} is not an email address")
    return value


def checked(message: EmailMessage, default_sender: str | None = None) -> EmailMessage:
    """The message with its header fields stripped, or a DeliveryError naming what is wrong."""
    key = message.key.strip()
    if not key:
        raise DeliveryError("email without an idempotency key")
    key = _one_line(key, "key", key)
    sender = message.sender.strip() or (default_sender or "").strip()
    if not sender:
        raise DeliveryError(f"email {key!r}: no sender address")
    if not message.text.strip() and not message.html.strip():
        raise DeliveryError(f"email {key!r}: both the text and the HTML body are empty")
    for attachment in message.attachments:
        if not attachment.filename.strip():
            raise DeliveryError(f"email {key!r}: an attachment has no file name")
        _one_line(attachment.filename, "attachment file name", key)
        if not _MIME_TYPE.match(attachment.mime_type):
            raise DeliveryError(
                f"email {key!r}: attachment {attachment.filename!r} has an invalid MIME type "
                f"{attachment.mime_type!r}"
            )
    return EmailMessage(
        to=_address(message.to, "recipient", key),
        subject=_one_line(message.subject, "subject", key),
        text=message.text,
        html=message.html,
        sender=_address(sender, "sender", key),
        key=key,
        attachments=message.attachments,
    )
