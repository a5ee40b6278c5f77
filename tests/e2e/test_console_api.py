"""The embeddable console over HTTP (SPEC §8): console sessions, the page under its token, the
documents it links, every refusal one 403 that says nothing, and `billing console-url`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from billing.api import dependencies as deps
from billing.services.invoice_run import invoice_customers
from billing.store.catalog_versions import active_catalog
from tests.e2e.conftest import MID_MARCH, client_for
from tests.e2e.test_cli import billing

SECRET = "console-secret-for-tests-0123456789abcdef"
ANCESTORS = "'self' https://app.example.com"
APRIL_5 = datetime(2026, 4, 5, tzinfo=UTC)
APRIL_10 = datetime(2026, 4, 10, 9, tzinfo=UTC)
REFUSED = {
    "error": {
        "code": "forbidden",
        "message": "this console link is invalid or has expired: open the console again from the app",
    }
}


def call(n: int, day: str, customer: str = "bravo") -> dict:
    return {
        "transaction_id": f"c-{customer}-{n}",
        "customer_id": customer,
        "event_type": "api_call",
        "timestamp": f"{day}T15:00:00Z",
        "properties": {},
    }


@pytest.fixture
def api(engine, event_suite):
    client = client_for(
        engine, console_secret=SECRET, console_frame_ancestors=ANCESTORS, public_url="https://billing.example"
    )
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    return client


def token_of(client, customer: str = "bravo") -> str:
    answer = client.post(f"/v1/customers/{customer}/console-sessions")
    assert answer.status_code == 200, answer.text
    return parse_qs(urlsplit(answer.json()["url"]).query)["token"][0]


def page(client, token: str | None):
    params = {} if token is None else {"token": token}
    return client.get("/console", params=params, headers={"Authorization": ""})


def test_a_console_session_is_a_url_under_the_public_url_expiring_with_the_ttl(api):
    answer = api.post("/v1/customers/bravo/console-sessions")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"url", "expires_at"}
    assert re.fullmatch(
        r"https://billing\.example/console\?token=c1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}", body["url"]
    )
    assert datetime.fromisoformat(body["expires_at"]) == MID_MARCH + timedelta(minutes=30)
    assert api.post("/v1/customers/bravo/console-sessions").json()["url"] != body["url"]  # a nonce each


def test_a_session_needs_an_api_key_and_a_known_customer(api):
    assert api.post("/v1/customers/bravo/console-sessions", headers={"Authorization": ""}).status_code == 401
    unknown = api.post("/v1/customers/nobody/console-sessions")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_customer"


def test_without_a_secret_sessions_say_which_setting_and_the_console_refuses(engine):
    client = client_for(engine)
    answer = client.post("/v1/customers/bravo/console-sessions")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "console_disabled"
    assert "BILLING_CONSOLE_SECRET" in answer.json()["error"]["message"]
    forged = client_for(engine, console_secret=SECRET)
    assert page(client, token_of(forged)).status_code == 403


def test_the_page_renders_with_its_headers_and_no_api_key(api):
    key = api.headers["Authorization"].removeprefix("Bearer ")
    answer = page(api, token_of(api))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'nonce-")
    assert policy.endswith(f"frame-ancestors {ANCESTORS}")
    assert "img-src 'self' data:" in policy
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert "x-frame-options" not in answer.headers
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)
    assert f'<style nonce="{nonce}">' in answer.text
    assert "Bravo LLC" in answer.text
    assert key not in answer.text and "Bearer" not in answer.text and SECRET not in answer.text
    assert not re.search(r"<script|src=|https?://", answer.text)  # loads nothing from anywhere
    assert page(api, token_of(api)).headers["content-security-policy"] != policy  # a nonce each


def test_the_spend_shown_is_the_usage_api_running_invoice_and_one_mark_per_day(api):
    events = [call(n, "2026-03-02") for n in range(3)] + [call(10 + n, "2026-03-05") for n in range(4)]
    assert api.post("/v1/events", json={"events": events}).json()["accepted"] == 7
    usage = api.get("/v1/customers/bravo/usage").json()
    html = page(api, token_of(api)).text
    running = usage["running_invoice"]["total"]
    assert f'id="running-total" data-amount="{running}">${running}<' in html
    assert f'id="spend" data-amount="{usage["spend"]}">' in html
    chart = re.search(r'<svg class="chart" data-metric="api_calls".*?</svg>', html, re.S).group(0)
    marks = re.findall(r'class="mark" data-day="([0-9-]+)" data-quantity="([0-9.]+)"', chart)
    assert marks == [("2026-03-02", "3"), ("2026-03-05", "4")]
    assert 'role="img" aria-labelledby="chart-title-1"' in chart


@pytest.mark.parametrize("token", [None, "", "nonsense", "c1.a.b", "c1..", "é" * 40, "x" * 10_000])
def test_missing_or_malformed_tokens_are_the_same_403(api, token):
    answer = page(api, token)
    assert answer.status_code == 403 and answer.json() == REFUSED


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%FF%FE", "c1.%E2%80%AE.x", "-1", "1e400"])
def test_undecodable_tokens_are_the_same_403(api, raw):
    answer = api.get(f"/console?token={raw}", headers={"Authorization": ""})
    assert answer.status_code == 403 and answer.json() == REFUSED


def test_a_nul_in_the_token_is_a_422(api):
    answer = api.get("/console?token=%00")
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request"


def test_an_expired_token_is_the_same_403(api):
    token = token_of(api)
    api.app.dependency_overrides[deps.now] = lambda: MID_MARCH + timedelta(minutes=30)
    assert page(api, token).json() == REFUSED


def test_a_token_of_another_secret_is_the_same_403(api, engine):
    other = client_for(engine, console_secret="another-secret-of-forty-characters-00000")
    assert page(api, token_of(other)).json() == REFUSED


def test_every_tampered_character_is_the_same_403(api):
    token = token_of(api)
    for index, char in enumerate(token):
        swapped = "A" if char != "A" else "B"
        answer = page(api, token[:index] + swapped + token[index + 1 :])
        assert (answer.status_code, answer.json()) == (403, REFUSED), index


@pytest.fixture
def invoiced(api, engine):
    """Bravo's and alpha's March invoices issued on April 5; the console read on April 10."""
    with engine.connect() as connection:
        stored = active_catalog(connection)
    report = invoice_customers(
        engine, stored, ["alpha", "bravo"], APRIL_5, grace=timedelta(hours=24), due_days=30, now=APRIL_5
    )
    numbers = {o.customer_id: o.number for o in report.finalized}
    api.app.dependency_overrides[deps.now] = lambda: APRIL_10
    return api, numbers


def test_the_page_links_the_customers_invoices_under_its_token(invoiced):
    api, numbers = invoiced
    token = token_of(api)
    html = page(api, token).text
    number = numbers["bravo"]
    assert f'href="/console/invoices/{number}.html?token={token}"' in html
    assert f'href="/console/invoices/{number}.pdf?token={token}"' in html
    assert numbers["alpha"] not in html
    document = api.get(
        f"/console/invoices/{number}.html", params={"token": token}, headers={"Authorization": ""}
    )
    assert document.status_code == 200 and number in document.text
    assert document.headers["referrer-policy"] == "no-referrer"
    assert document.headers["content-security-policy"].endswith(f"frame-ancestors {ANCESTORS}")
    pdf = api.get(f"/console/invoices/{number}.pdf", params={"token": token}, headers={"Authorization": ""})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == f'inline; filename="{number}.pdf"'


@pytest.mark.parametrize("suffix", ["html", "pdf"])
def test_another_customers_invoice_is_the_404_of_no_invoice(invoiced, suffix):
    api, numbers = invoiced
    token = token_of(api)
    theirs = api.get(f"/console/invoices/{numbers['alpha']}.{suffix}", params={"token": token})
    missing = api.get(f"/console/invoices/INV-999999.{suffix}", params={"token": token})
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["error"]["code"] == missing.json()["error"]["code"] == "unknown_invoice"
    assert numbers["alpha"] in theirs.json()["error"]["message"]  # only the number it was asked for
    assert "alpha" not in theirs.json()["error"]["message"].replace(numbers["alpha"], "")


@pytest.mark.parametrize("suffix", ["html", "pdf"])
def test_documents_without_a_valid_token_are_the_same_403(invoiced, suffix):
    api, numbers = invoiced
    for params in ({}, {"token": "forged"}):
        answer = api.get(f"/console/invoices/{numbers['bravo']}.{suffix}", params=params)
        assert (answer.status_code, answer.json()) == (403, REFUSED)


@pytest.mark.one_database
def test_the_cli_prints_the_url_alone_and_the_expiry_on_stderr(api, engine):
    env = {
        "BILLING_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "BILLING_CONSOLE_SECRET": SECRET,
        "BILLING_PUBLIC_URL": "https://billing.example/",
    }
    made = billing("console-url", "bravo", env=env)
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert made.stdout.count("\n") == 1 and url.startswith("https://billing.example/console?token=c1.")
    assert "valid until" in made.stderr
    api.app.dependency_overrides[deps.now] = lambda: datetime.now(UTC)
    assert page(api, parse_qs(urlsplit(url).query)["token"][0]).status_code == 200
    unknown = billing("console-url", "nobody", env=env)
    assert unknown.returncode != 0 and "unknown customer 'nobody'" in unknown.stderr and not unknown.stdout
    off = billing("console-url", "bravo", env={**env, "BILLING_CONSOLE_SECRET": ""})
    assert off.returncode != 0 and "BILLING_CONSOLE_SECRET" in off.stderr and not off.stdout
    short = billing("console-url", "bravo", env={**env, "BILLING_CONSOLE_SECRET": "short"})
    assert short.returncode != 0 and "at least 32 characters" in short.stderr
