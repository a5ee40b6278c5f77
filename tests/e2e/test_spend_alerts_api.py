"""`POST /v1/events`: a request whose events cross a spend alert leads to the email, sent after
the answer (a background task), and a repeat of it to nothing."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

from fastapi.testclient import TestClient

from billing.api import dependencies as deps
from billing.api.app import create_app
from billing.runtime.settings import Settings
from billing.store.api_keys import create_key
from billing.store.catalog_versions import save_catalog
from tests.integration.test_spend_alerts import MARCH, catalog

LATE_MARCH = datetime(2026, 3, 30, 12, tzinfo=UTC)


def test_a_request_crossing_an_alert_is_emailed(engine, tmp_path):
    with engine.begin() as connection:
        save_catalog(connection, catalog(), "test", MARCH)
        key = create_key(connection, "spend-tests", MARCH)
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        outbox_dir=tmp_path / "outbox",
        api_rate_limit=1e6,
        api_rate_burst=10**6,
    )
    app = create_app(settings, engine)
    app.dependency_overrides[deps.now] = lambda: LATE_MARCH
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {key}"
    events = [
        {
            "transaction_id": f"t{n}",
            "customer_id": "acme",
            "event_type": "call",
            "timestamp": "2026-03-30T10:00:00Z",
        }
        for n in range(501)
    ]
    answer = client.post("/v1/events", json={"events": events})
    assert answer.status_code == 200 and answer.json()["accepted"] == 501
    (path,) = (tmp_path / "outbox").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert (message["To"], message["Subject"]) == (
        "acme@example.com",
        "acme: spend passed $500.00 this period",
    )

    repeat = client.post("/v1/events", json={"events": events})
    assert repeat.json()["duplicates"] == 501
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
