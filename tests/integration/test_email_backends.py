"""Email backends: the outbox writes real .eml files; SendGrid posts a valid v3 payload.

The SendGrid tests talk to a local `http.server` on 127.0.0.1 given through `host=`; nothing here
touches the internet.
"""

from __future__ import annotations

import base64
import email
import email.policy
import logging
import socket
import time
from pathlib import Path

import pytest

from billing.core.errors import BillingError
from billing.notify.backends import (
    KEY_CUSTOM_ARG,
    KEY_HEADER,
    Attachment,
    DeliveryError,
    EmailBackend,
    EmailMessage,
)
from billing.notify.outbox import OutboxBackend
from billing.notify.sendgrid_mail import SendGridBackend
from billing.runtime.resources import mailer as backend_from_settings
from billing.runtime.settings import Settings
from tests.fake_sendgrid import FakeSendGrid

API_KEY = "SG.test-only-key.DoNotLeakThis123"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\nfake invoice bytes\x00\x01\x02"
CSV = b"metric,quantity\napi_calls,1200\n"


def make_message(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = {
        "to": "Ada Customer <ada@acme.test>",
        "subject": "Invoice INV-000001 from Example Billing",
        "text": "Hello Ada,\n\nYour invoice INV-000001 for €1,234.50 is attached.\n",
        "html": "<p>Hello Ada,</p><p>Your invoice <b>INV-000001</b> for €1,234.50 is attached.</p>",
        "sender": "Example Billing <billing@example.test>",
        "key": "invoice_issued/acme/INV-000001",
        "attachments": (
            Attachment("INV-000001.pdf", PDF, "application/pdf"),
            Attachment("usage.csv", CSV, "text/csv"),
        ),
    }
    fields.update(overrides)
    return EmailMessage(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Outbox


def parse_eml(path: Path) -> email.message.EmailMessage:
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(parsed, email.message.EmailMessage)
    return parsed


def test_outbox_writes_a_parseable_eml_with_both_bodies_and_attachments(tmp_path: Path) -> None:
    outbox = tmp_path / "var" / "outbox"  # does not exist yet: the backend creates it
    backend: EmailBackend = OutboxBackend(outbox)
    message = make_message()

    message_id = backend.send(message)

    files = sorted(outbox.iterdir())
    assert [f.name for f in files] == [message_id.removeprefix("outbox:")]
    assert message_id.startswith("outbox:") and message_id.endswith(".eml")
    assert "/" not in message_id.removeprefix("outbox:")
    assert message_id.startswith("outbox:invoice_issued_acme_INV-000001")

    parsed = parse_eml(files[0])
    assert parsed["From"] == "Example Billing <billing@example.test>"
    assert parsed["To"] == "Ada Customer <ada@acme.test>"
    assert parsed["Subject"] == "Invoice INV-000001 from Example Billing"
    assert parsed[KEY_HEADER] == "invoice_issued/acme/INV-000001"
    assert parsed["Date"] and parsed["Message-ID"]
    assert parsed["Message-ID"].strip("<>").endswith("@example.test")
    assert parsed.get_content_type() == "multipart/mixed"

    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content() == message.text  # non-ASCII (€) survives the round trip
    assert html.get_content().strip() == message.html
    assert [part.get_content_type() for part in parsed.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
        "text/csv",
    ]

    attachments = list(parsed.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("INV-000001.pdf", "application/pdf"),
        ("usage.csv", "text/csv"),
    ]
    assert attachments[0].get_content() == PDF
    assert attachments[1].get_payload(decode=True) == CSV


def test_outbox_is_idempotent_per_key_and_leaves_no_temp_files(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    first = backend.send(make_message(subject="First try"))
    second = backend.send(make_message(subject="Second try"))

    assert first == second
    files = list(tmp_path.iterdir())
    assert len(files) == 1  # overwritten in place, no stray .tmp file
    assert parse_eml(files[0])["Subject"] == "Second try"

    other = backend.send(make_message(key="invoice_issued/acme/INV-000002"))
    assert other != first
    assert len(list(tmp_path.iterdir())) == 2


def test_outbox_file_names_are_safe_and_do_not_collide(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    ids = {
        backend.send(make_message(key=key))
        for key in ("a/b", "a_b", "a b", "../../etc/passwd", "..", "trial_ending/ünïcode/2026-01")
    }
    assert len(ids) == 6
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {i.removeprefix("outbox:") for i in ids}
    for name in names:
        assert not name.startswith(".")
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), name
    assert not (tmp_path.parent / "etc").exists()


def test_outbox_text_only_message(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    message_id = backend.send(make_message(html="", attachments=()))
    parsed = parse_eml(tmp_path / message_id.removeprefix("outbox:"))
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content() == make_message().text


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"to": "not an address"}, "recipient"),
        ({"subject": "Hello\r\nBcc: victim@example.test"}, "line break"),
        ({"key": "  "}, "idempotency key"),
        ({"sender": ""}, "sender"),
        ({"text": "", "html": " "}, "empty"),
        ({"attachments": (Attachment("x.bin", b"", "nonsense"),)}, "MIME type"),
    ],
)
def test_outbox_refuses_malformed_messages(
    tmp_path: Path, overrides: dict[str, object], fragment: str
) -> None:
    with pytest.raises(DeliveryError, match=fragment):
        OutboxBackend(tmp_path).send(make_message(**overrides))
    assert list(tmp_path.iterdir()) == []


def test_outbox_unwritable_directory_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(DeliveryError, match="cannot write email") as refused:
        OutboxBackend(blocker).send(make_message())
    assert refused.value.retryable  # the folder's fault: the same message goes once it is fixed


# --------------------------------------------------------------------------------------------
# SendGrid, against a local HTTP server


def test_sendgrid_posts_a_valid_v3_payload(sendgrid_server: FakeSendGrid) -> None:
    backend: EmailBackend = SendGridBackend(API_KEY, "fallback@example.test", host=sendgrid_server.url)
    message = make_message()

    message_id = backend.send(message)

    assert message_id == "msg-abc123.filter0001"
    [request] = sendgrid_server.requests
    assert request.method == "POST"
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"

    payload = request.json()
    personalizations = payload["personalizations"]
    assert isinstance(personalizations, list) and len(personalizations) == 1
    assert personalizations[0]["to"] == [{"email": "ada@acme.test", "name": "Ada Customer"}]
    assert payload["from"] == {"email": "billing@example.test", "name": "Example Billing"}
    assert payload["subject"] == "Invoice INV-000001 from Example Billing"
    assert payload["content"] == [
        {"type": "text/plain", "value": message.text},
        {"type": "text/html", "value": message.html},
    ]
    assert payload["attachments"] == [
        {
            "content": base64.b64encode(PDF).decode("ascii"),
            "filename": "INV-000001.pdf",
            "type": "application/pdf",
            "disposition": "attachment",
        },
        {
            "content": base64.b64encode(CSV).decode("ascii"),
            "filename": "usage.csv",
            "type": "text/csv",
            "disposition": "attachment",
        },
    ]
    assert base64.b64decode(payload["attachments"][0]["content"]) == PDF
    assert payload["custom_args"] == {KEY_CUSTOM_ARG: "invoice_issued/acme/INV-000001"}
    assert payload["headers"] == {KEY_HEADER: "invoice_issued/acme/INV-000001"}
    # Only keys the v3 API knows, nothing null or empty.
    assert set(payload) == {
        "personalizations",
        "from",
        "subject",
        "content",
        "attachments",
        "headers",
        "custom_args",
    }


def test_sendgrid_uses_the_backend_sender_when_the_message_has_none(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.message_id = None
    backend = SendGridBackend(API_KEY, "billing@fallback.test", host=sendgrid_server.url)

    message_id = backend.send(make_message(sender="", html="", attachments=()))

    assert message_id == ""  # no X-Message-Id header in the answer
    payload = sendgrid_server.requests[0].json()
    assert payload["from"] == {"email": "billing@fallback.test"}
    assert payload["content"] == [{"type": "text/plain", "value": make_message().text}]
    assert "attachments" not in payload


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (
            400,
            b'{"errors":[{"message":"The from address does not match a verified Sender Identity.",'
            b'"field":"from","help":null}]}',
            False,
        ),
        (401, ("bad credentials for " + API_KEY).encode(), False),
        (500, b"<html>upstream exploded</html>", True),
        (503, b"", True),
    ],
)
def test_sendgrid_errors_become_delivery_errors_without_the_api_key(
    sendgrid_server: FakeSendGrid,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: bytes,
    retryable: bool,
) -> None:
    sendgrid_server.status = status
    sendgrid_server.body = body
    backend = SendGridBackend(API_KEY, host=sendgrid_server.url)

    with caplog.at_level(logging.DEBUG), pytest.raises(DeliveryError) as caught:
        backend.send(make_message())

    error = caught.value
    text = str(error)
    assert isinstance(error, BillingError)
    assert error.status == status
    assert error.retryable is retryable
    assert f"HTTP {status}" in text
    assert "invoice_issued/acme/INV-000001" in text
    assert "\n" not in text
    assert API_KEY not in text and "DoNotLeak" not in text
    assert API_KEY not in repr(error.args)
    if status == 400:
        assert "from: The from address does not match a verified Sender Identity." in text
    if status == 500:
        assert "upstream exploded" in text
    # python_http_client logs request headers at DEBUG; the Authorization value must be redacted.
    assert "python_http_client" in caplog.text
    assert API_KEY not in caplog.text
    assert "Bearer [redacted]" in caplog.text


def test_sendgrid_unreachable_host_is_a_retryable_delivery_error() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = SendGridBackend(API_KEY, host=f"http://127.0.0.1:{port}", timeout=2)

    with pytest.raises(DeliveryError, match="cannot reach SendGrid") as caught:
        backend.send(make_message())
    assert caught.value.retryable and caught.value.status is None
    assert API_KEY not in str(caught.value)


def test_sendgrid_timeout_is_a_retryable_delivery_error(sendgrid_server: FakeSendGrid) -> None:
    sendgrid_server.delay = 1.5
    backend = SendGridBackend(API_KEY, host=sendgrid_server.url, timeout=0.2)

    started = time.monotonic()
    with pytest.raises(DeliveryError, match=r"no answer within 0\.2s") as caught:
        backend.send(make_message())
    assert time.monotonic() - started < 1.5
    assert caught.value.retryable


def test_sendgrid_refuses_a_body_that_contains_an_api_key_before_sending(
    sendgrid_server: FakeSendGrid,
) -> None:
    backend = SendGridBackend(API_KEY, host=sendgrid_server.url)
    with pytest.raises(DeliveryError, match="refused before sending"):
        backend.send(make_message(text="SG.abc123.def456 is your key"))
    assert sendgrid_server.requests == []


def test_sendgrid_backend_needs_a_key_and_hides_it() -> None:
    with pytest.raises(BillingError, match="API key"):
        SendGridBackend("  ")
    assert API_KEY not in repr(SendGridBackend(API_KEY))


# --------------------------------------------------------------------------------------------
# Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "BILLING_EMAIL_BACKEND",
        "BILLING_OUTBOX_DIR",
        "BILLING_SENDGRID_API_KEY",
        "SENDGRID_API_KEY",
        "BILLING_SENDGRID_HOST",
        "BILLING_EMAIL_FROM",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_backend_from_settings_outbox(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("BILLING_OUTBOX_DIR", str(tmp_path / "out"))
    backend = backend_from_settings(Settings(_env_file=None))
    assert isinstance(backend, OutboxBackend)
    assert backend.directory == tmp_path / "out"


def test_backend_from_settings_sendgrid(clean_env: pytest.MonkeyPatch, sendgrid_server: FakeSendGrid) -> None:
    clean_env.setenv("BILLING_EMAIL_BACKEND", "sendgrid")
    clean_env.setenv("SENDGRID_API_KEY", API_KEY)  # SendGrid's own variable name is read too
    clean_env.setenv("BILLING_SENDGRID_HOST", sendgrid_server.url)
    clean_env.setenv("BILLING_EMAIL_FROM", "invoices@example.test")

    backend = backend_from_settings(Settings(_env_file=None))

    assert isinstance(backend, SendGridBackend)
    assert backend.send(make_message(sender="")) == "msg-abc123.filter0001"
    request = sendgrid_server.requests[0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.json()["from"] == {"email": "invoices@example.test"}


def test_backend_from_settings_sendgrid_without_a_key(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("BILLING_EMAIL_BACKEND", "sendgrid")
    with pytest.raises(BillingError, match="BILLING_SENDGRID_API_KEY"):
        backend_from_settings(Settings(_env_file=None))
