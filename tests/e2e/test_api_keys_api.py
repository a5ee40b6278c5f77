"""API keys end to end (SPEC §8): made by the CLI, refused once revoked, old ones still valid,
and each key limited on its own: a burst, then tokens as time goes by, with `Retry-After`."""

from __future__ import annotations

import hashlib

import sqlalchemy as sa

from billing.api.rate_limit import RateLimiter
from billing.api.verified_keys import KEY_CACHE_SECONDS, VerifiedKeys
from billing.cli.commands import admin
from billing.store.models import ApiKey
from tests.e2e.conftest import MID_MARCH, client_for

INVOICES = "/v1/customers/alpha/invoices"


def test_a_key_made_by_the_cli_works_until_revoked_by_the_cli(configured) -> None:
    client = client_for(configured)
    clock = Clock()
    client.app.state.verified_keys = VerifiedKeys(clock=clock)
    key = admin.api_key("create", "shop")
    assert admin.api_key("list", None).splitlines()[-1].split()[:2] == ["shop", key[:15]]
    assert client.get(INVOICES, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert admin.api_key("revoke", "shop") == "revoked API key 'shop'"
    clock.now += KEY_CACHE_SECONDS  # the documented bound: a revocation takes effect within it
    refused = client.get(INVOICES, headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["error"] == {"code": "unauthorized", "message": "unknown or revoked API key"}
    assert client.get(INVOICES).status_code == 200  # the other key is untouched


def test_a_key_of_the_first_format_keeps_working(engine) -> None:
    client = client_for(engine)
    old = "bk_" + "x" * 43  # `bk_` + token_urlsafe(32), before key ids
    with engine.begin() as connection:
        digest = hashlib.sha256(old.encode()).hexdigest()
        connection.execute(
            sa.insert(ApiKey).values(name="old", prefix="bk_…", key_hash=digest, created_at=MID_MARCH)
        )
    assert client.get(INVOICES, headers={"Authorization": f"Bearer {old}"}).status_code == 200
    assert client.get(INVOICES, headers={"Authorization": f"Bearer {old}y"}).status_code == 401


def test_malformed_keys_are_401_never_500(engine) -> None:
    client = client_for(engine)
    for value in ("Bearer", "Bearer   ", "Basic abc", "Bearer bk_", "Bearer " + "k" * 10_000, "bk_x"):
        response = client.get(INVOICES, headers={"Authorization": value})
        assert response.status_code == 401, value
        assert response.json()["error"]["code"] == "unauthorized"
    response = client.get(INVOICES, headers={"Authorization": b"Bearer bk_\xe9\xff" + b"a" * 30})
    assert response.status_code == 401  # latin-1 bytes in the header


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_each_key_has_its_own_burst_and_tokens_come_back_with_time(configured) -> None:
    client = client_for(configured)
    clock = Clock()
    client.app.state.rate_limiter = RateLimiter(rate=0.5, burst=3, clock=clock)
    other = {"Authorization": f"Bearer {admin.api_key('create', 'other')}"}
    assert [client.get(INVOICES).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.get(INVOICES, headers=other).status_code == 200  # another key: its own bucket
    clock.now += 1.5  # three quarters of a token since the refusal
    refused = client.get(INVOICES)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"  # 0.5 s, rounded up
    assert refused.json()["error"]["code"] == "rate_limited"
    clock.now += 0.5
    assert client.get(INVOICES).status_code == 200  # refilled
    assert client.get(INVOICES).headers["Retry-After"] == "2"  # a token every 2 s
    clock.now += 3600  # never more than the burst at once
    assert [client.get(INVOICES).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_a_verified_key_is_remembered_for_a_few_seconds_and_its_revocation_takes_effect_then(
    configured,
) -> None:
    client = client_for(configured)
    clock = Clock()
    client.app.state.verified_keys = VerifiedKeys(clock=clock)
    key = admin.api_key("create", "shop")
    shop = {"Authorization": f"Bearer {key}"}
    assert client.get(INVOICES, headers=shop).status_code == 200
    admin.api_key("revoke", "shop")
    clock.now += KEY_CACHE_SECONDS - 0.001
    assert client.get(INVOICES, headers=shop).status_code == 200  # remembered: no lookup
    clock.now += 0.001
    assert client.get(INVOICES, headers=shop).status_code == 401  # looked up again: revoked
    clock.now -= 3600  # a refusal is never remembered as a verified key
    assert client.get(INVOICES, headers=shop).status_code == 401
    fresh = {"Authorization": f"Bearer {admin.api_key('create', 'shop-2')}"}
    assert client.get(INVOICES, headers=fresh).status_code == 200  # a new key works at once
