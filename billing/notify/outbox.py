"""The outbox backend: each email as an RFC 5322 `.eml` file in a directory (the default)."""

from __future__ import annotations

import contextlib
import email.message
import email.policy
import email.utils
import hashlib
import os
import re
import tempfile
from pathlib import Path

from billing.notify.backends import KEY_HEADER, DeliveryError, EmailMessage, checked

_SAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def outbox_filename(key: str) -> str:
    """The `.eml` file name for an idempotency key: safe characters, and a hash of the key.

    Unsafe characters (slashes included) become "_"; the short hash keeps two keys that differ
    only in those characters apart, and the same key always maps to the same name.
    """
    readable = _SAFE_NAME_CHARS.sub("_", key).strip("._-")[:100] or "message"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:12]
    return f"{readable}-{digest}.eml"


class OutboxBackend:
    """Writes each message as an RFC 5322 `.eml` file into `directory` (created if missing).

    The file name comes from the message key (see `outbox_filename`), so sending the same key
    again replaces the same file. Files are written to a temporary name and renamed into place:
    a crash leaves either the old file or the new one, never half of one.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"OutboxBackend({str(self.directory)!r})"

    def send(self, message: EmailMessage) -> str:
        """Write `message` to the outbox; return "outbox:<file name>"."""
        message = checked(message)
        try:
            data = self.render(message)
        except (ValueError, TypeError) as exc:
            raise DeliveryError(f"email {message.key!r} cannot be written as MIME: {exc}") from exc
        filename = outbox_filename(message.key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.directory / filename, data)
        except OSError as exc:  # the folder's fault, not the message's: it goes once fixed
            raise DeliveryError(
                f"cannot write email {message.key!r} to the outbox {str(self.directory)!r}: "
                f"{exc.strerror or exc}",
                retryable=True,
            ) from exc
        return f"outbox:{filename}"

    @staticmethod
    def render(message: EmailMessage) -> bytes:
        """The message as RFC 5322 bytes: text and HTML alternatives, then attachments.

        Lines end in "\\n", as mail tools store `.eml` files, so bodies read back with
        `email.policy.default` equal the originals (CRLF would come back inside the bodies).
        """
        mime = email.message.EmailMessage(policy=email.policy.default)
        mime["From"] = message.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = email.utils.formatdate(usegmt=True)
        _, sender_address = email.utils.parseaddr(message.sender)
        mime["Message-ID"] = email.utils.make_msgid(domain=sender_address.rpartition("@")[2] or None)
        mime[KEY_HEADER] = message.key
        if message.text.strip():
            mime.set_content(message.text)
            if message.html.strip():
                mime.add_alternative(message.html, subtype="html")
        else:
            mime.set_content(message.html, subtype="html")
        for attachment in message.attachments:
            maintype, _, subtype = attachment.mime_type.partition("/")
            mime.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return mime.as_bytes()


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    # Make the rename itself durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
