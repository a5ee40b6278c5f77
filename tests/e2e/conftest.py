"""An API client on a database holding the fixture catalog and one API key, no usage."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from billing.api import dependencies as deps
from billing.api.app import create_app
from billing.runtime.settings import Settings
from billing.sources.catalog_file import load_catalog
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from tests.conftest import FIXTURES

MID_MARCH = datetime(2026, 3, 20, 12, tzinfo=UTC)
_KEY_NAMES = (f"tests-{n}" for n in itertools.count())


def client_for(engine, **settings) -> TestClient:
    """A client of a new app on `engine`, as the fixture catalog's vendor on March 20."""
    with engine.begin() as connection:
        save_catalog(connection, load_catalog(FIXTURES / "three_customers.yaml"), "fixture", MID_MARCH)
        key = create_key(connection, next(_KEY_NAMES), MID_MARCH)
    url = engine.url.render_as_string(hide_password=False)
    # tests send requests far faster than a client would: the limit is tested on its own
    settings = {"api_rate_limit": 1e6, "api_rate_burst": 10**6, **settings}
    app = create_app(Settings(database_url=url, **settings), engine)
    app.dependency_overrides[deps.now] = lambda: MID_MARCH
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {key}"
    return client


@pytest.fixture
def bare_api(engine) -> TestClient:
    return client_for(engine)
