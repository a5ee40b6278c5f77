"""An email's console link over HTTP (SPEC §8): `GET /console/open` mints a fresh console token
and redirects to the console of the link's customer; every bad link is the console's one 403."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from billing.api import dependencies as deps
from billing.core import console_tokens
from billing.core.console_links import sign_link
from billing.services.console_links import ConsoleLinks
from tests.e2e.conftest import MID_MARCH, client_for
from tests.e2e.test_console_api import ANCESTORS, REFUSED, SECRET

PUBLIC = "https://billing.example"


@pytest.fixture
def api(engine):
    return client_for(
        engine,
        console_secret=SECRET,
        console_frame_ancestors=ANCESTORS,
        public_url=PUBLIC,
        console_link_days=30,
    )


def link_params(customer: str = "bravo", days: int = 30, secret: str = SECRET) -> dict[str, str]:
    url = ConsoleLinks(secret, PUBLIC, days).link(customer, MID_MARCH).url
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def open_link(client, params: dict[str, str] | None):
    return client.get(
        "/console/open", params=params or {}, headers={"Authorization": ""}, follow_redirects=False
    )


def test_a_link_redirects_to_the_console_of_its_customer_with_a_fresh_token(api):
    answer = open_link(api, link_params())
    assert answer.status_code == 303, answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    location = urlsplit(answer.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "billing.example", "/console")
    token = parse_qs(location.query)["token"][0]
    grant = console_tokens.verify(SECRET, token, MID_MARCH)
    assert grant is not None and grant.customer_id == "bravo"
    assert grant.expires_at == MID_MARCH + timedelta(minutes=30)  # BILLING_CONSOLE_TTL_MINUTES
    page = api.get("/console", params={"token": token}, headers={"Authorization": ""})
    assert page.status_code == 200 and "Bravo LLC" in page.text
    assert "Alpha GmbH" not in page.text


def test_a_link_opened_weeks_later_still_works_and_mints_a_token_for_then(api):
    params = link_params()
    later = MID_MARCH + timedelta(days=29, hours=23)
    api.app.dependency_overrides[deps.now] = lambda: later
    answer = open_link(api, params)
    assert answer.status_code == 303
    token = parse_qs(urlsplit(answer.headers["location"]).query)["token"][0]
    assert console_tokens.verify(SECRET, token, later).expires_at == later + timedelta(minutes=30)
    again = open_link(api, params)  # each opening its own token
    assert parse_qs(urlsplit(again.headers["location"]).query)["token"][0] != token


def _bad_links() -> dict[str, dict[str, str] | None]:
    good = link_params()
    alpha = link_params("alpha")
    session_sig = console_tokens.sign(SECRET, "bravo", MID_MARCH + timedelta(minutes=30), b"n" * 12).rsplit(
        "."
    )[-1]
    return {
        "nothing": None,
        "no signature": {k: v for k, v in good.items() if k != "sig"},
        "no expiry": {k: v for k, v in good.items() if k != "expires"},
        "no customer": {k: v for k, v in good.items() if k != "customer"},
        "forged signature": good | {"sig": "A" * 43},
        "another customer's signature": good | {"sig": alpha["sig"]},
        "another customer, this signature": good | {"customer": "alpha"},
        "a later expiry": good | {"expires": str(int(good["expires"]) + 60)},
        "a padded expiry": good | {"expires": "0" + good["expires"]},
        "another secret": link_params(secret="another-secret-of-forty-characters-00000"),
        "longer than the setting": link_params(days=31),
        "a customer not in the catalog": link_params("nobody"),
        "a session token's signature": good
        | {"expires": str(int((MID_MARCH + timedelta(minutes=30)).timestamp())), "sig": session_sig},
        "a session token as the signature": good
        | {"sig": console_tokens.sign(SECRET, "bravo", MID_MARCH + timedelta(minutes=30), b"n" * 12)},
        "non-ascii": good | {"sig": "é" * 43},
        "huge": good | {"customer": "b" * 10_000},
    }


@pytest.mark.parametrize("case", sorted(_bad_links()))
def test_every_bad_link_is_the_consoles_one_403(api, case):
    answer = open_link(api, _bad_links()[case])
    assert (answer.status_code, answer.json()) == (403, REFUSED), case
    assert "location" not in answer.headers


def test_an_expired_link_is_the_same_403(api):
    params = link_params()
    api.app.dependency_overrides[deps.now] = lambda: MID_MARCH + timedelta(days=30)
    assert (open_link(api, params).status_code, open_link(api, params).json()) == (403, REFUSED)


def test_undecodable_links_are_the_same_403(api):
    good = link_params()
    for raw in ("%ED%A0%80", "%FF%FE"):
        query = f"customer={raw}&expires={good['expires']}&sig={good['sig']}"
        answer = api.get(f"/console/open?{query}", follow_redirects=False)
        assert (answer.status_code, answer.json()) == (403, REFUSED), raw


def test_without_a_console_secret_every_link_is_the_same_403(engine):
    off = client_for(engine, public_url=PUBLIC)
    assert (open_link(off, link_params()).status_code, open_link(off, link_params()).json()) == (403, REFUSED)


def test_a_link_is_not_a_console_token_at_the_console(api):
    params = link_params()
    assert api.get("/console", params={"token": params["sig"]}).json() == REFUSED
    signature = sign_link(SECRET, "bravo", int(params["expires"]))
    assert api.get("/console", params={"token": f"c1.x.{signature}"}).json() == REFUSED
