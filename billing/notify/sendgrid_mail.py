"""The SendGrid backend: v3 `mail/send` through the official client, the API key never logged."""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re

import sendgrid
from python_http_client.exceptions import HTTPError as SendGridHTTPError
from sendgrid.helpers.mail import Attachment as SendGridAttachment
from sendgrid.helpers.mail import (
    Content,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    Subject,
    To,
)
from sendgrid.helpers.mail.exceptions import SendGridException

from billing.core.errors import BillingError
from billing.notify.backends import (
    KEY_CUSTOM_ARG,
    KEY_HEADER,
    DeliveryError,
    EmailMessage,
    checked,
    retry_after,
)

_SNIPPET_CHARS = 300


class _RedactAuthorization(logging.Filter):
    """python_http_client logs every request's headers at DEBUG, API key included: redact it.

    Its log lines are formatted before logging, so the secret is in `record.msg`: bearer tokens
    and anything shaped like a SendGrid key ("SG.<id>.<secret>") are replaced.
    """

    _SECRETS = re.compile(r"(?<=Bearer )[^\s'\",}]+|SG\.[\w-]+\.[\w-]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = self._SECRETS.sub("[redacted]", record.msg)
        return True


def _install_log_redaction() -> None:
    logger = logging.getLogger("python_http_client.client")
    if not any(isinstance(existing, _RedactAuthorization) for existing in logger.filters):
        logger.addFilter(_RedactAuthorization())


_install_log_redaction()


class SendGridBackend:
    """Sends messages through SendGrid's v3 `mail/send` API.

    `sender` is the default From address, used when a message has none of its own. `host` is
    the API's base URL (a local server in tests, "https://api.eu.sendgrid.com" for EU data
    residency). `timeout` bounds each request in seconds; the SendGrid client has none of its own.
    """

    def __init__(
        self,
        api_key: str,
        sender: str | None = None,
        host: str = "https://api.sendgrid.com",
        *,
        timeout: float = 30.0,
    ) -> None:
        if not api_key or not api_key.strip():
            # An empty key would make the client silently fall back to $SENDGRID_API_KEY.
            raise BillingError("the SendGrid email backend needs an API key; none was given")
        self._api_key = api_key.strip()
        self.sender = sender
        self.host = host.rstrip("/")
        self.timeout = timeout
        self._client = sendgrid.SendGridAPIClient(self._api_key, host=self.host)

    def __repr__(self) -> str:
        return f"SendGridBackend(sender={self.sender!r}, host={self.host!r})"

    def payload(self, message: EmailMessage) -> dict[str, object]:
        """The v3 `mail/send` request body for `message` (validated; raises `DeliveryError`)."""
        message = checked(message, self.sender)
        try:
            mail = Mail(from_email=From(message.sender), to_emails=To(message.to))
            mail.subject = Subject(message.subject)
            # SendGrid wants text/plain before text/html; Mail.add_content keeps that order.
            if message.text.strip():
                mail.add_content(Content("text/plain", message.text))
            if message.html.strip():
                mail.add_content(Content("text/html", message.html))
            # Mail.add_attachment inserts at the front of the list: add in reverse to keep order.
            for attachment in reversed(message.attachments):
                mail.add_attachment(
                    SendGridAttachment(
                        FileContent(base64.b64encode(attachment.content).decode("ascii")),
                        FileName(attachment.filename),
                        FileType(attachment.mime_type),
                        Disposition("attachment"),
                    )
                )
            mail.add_header(Header(KEY_HEADER, message.key))
            mail.add_custom_arg(CustomArg(KEY_CUSTOM_ARG, message.key))
            body: dict[str, object] = mail.get()
        except SendGridException as exc:
            # Raised by the library when a body looks like it contains a SendGrid API key.
            reason = getattr(exc, "message", None) or type(exc).__name__
            raise DeliveryError(f"email {message.key!r} refused before sending: {reason}") from None
        return body

    def send(self, message: EmailMessage) -> str:
        """POST `message` to SendGrid; return the `X-Message-Id` response header ("" if absent)."""
        body = self.payload(message)
        key = message.key.strip()
        try:
            response = self._client.client.mail.send.post(request_body=body, timeout=self.timeout)
        except SendGridHTTPError as exc:
            status = int(exc.status_code)
            snippet = self._redact(_error_snippet(exc.body))
            reason = f" {exc.reason}" if exc.reason else ""
            raise DeliveryError(
                f"SendGrid refused email {key!r}: HTTP {status}{reason}"
                + (f": {snippet}" if snippet else ""),
                status=status,
                retryable=status in (408, 429) or status >= 500,
                retry_after=retry_after(exc.headers.get("Retry-After") if exc.headers else None),
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            # urllib raises URLError (its `reason` the socket error) while connecting, and the bare
            # socket error (TimeoutError, ConnectionResetError, ...) while reading the answer.
            cause: object = getattr(exc, "reason", None) or exc
            if isinstance(cause, TimeoutError):
                detail = f"no answer within {self.timeout:g}s"
            else:
                detail = self._redact(str(cause)) or type(cause).__name__
            raise DeliveryError(
                f"cannot reach SendGrid at {self.host} for email {key!r}: {detail}", retryable=True
            ) from None
        message_id = response.headers.get("X-Message-Id") if response.headers is not None else None
        return str(message_id or "")

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]")


def _error_snippet(body: object) -> str:
    """One line from an error response: SendGrid's `errors[].message`s, else the raw body, cut short."""
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
    elif body is None:
        text = ""
    else:
        text = str(body)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list):
        messages = []
        for error in parsed["errors"]:
            if isinstance(error, dict) and error.get("message"):
                field = error.get("field")
                messages.append(f"{field}: {error['message']}" if field else str(error["message"]))
        if messages:
            text = "; ".join(messages)
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET_CHARS else text[: _SNIPPET_CHARS - 1] + "…"
