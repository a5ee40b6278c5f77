"""The console's tier position is the preview's `hint` of the same running-invoice line: same
band (counted from 1 for people), same unit price, same units to the next band. Bravo's storage
at exactly a volume tier's `up_to` is where counting the filled tiers of the line disagreed."""

from __future__ import annotations

import re

import pytest

from billing.api import dependencies as deps
from tests.e2e.conftest import client_for
from tests.e2e.test_console_api import ANCESTORS, SECRET, page, token_of

ROW = re.compile(
    r'<tr class="tier-position" data-line="(\d+)" data-tier="(\d+)" data-unit-price="([^"]*)" '
    r'data-units-to-next="([^"]*)">(.*?)</tr>',
    re.S,
)


def event(n: int, customer: str, kind: str, properties: dict) -> dict:
    return {
        "transaction_id": f"tier-{customer}-{n}",
        "customer_id": customer,
        "event_type": kind,
        "timestamp": "2026-03-04T15:00:00Z",
        "properties": properties,
    }


@pytest.fixture
def api(engine, event_suite):
    client = client_for(
        engine, console_secret=SECRET, console_frame_ancestors=ANCESTORS, public_url="https://billing.example"
    )
    client.app.dependency_overrides[deps.event_suite] = lambda: event_suite
    events = [event(n, "bravo", "api_call", {}) for n in range(7)]
    events.append(event(100, "bravo", "storage", {"gb": "100", "region": "eu"}))  # volume's up_to: 100
    events.append(event(200, "charlie", "llm", {"tokens": "1700"}))  # the second package of 1000
    events.append(event(300, "alpha", "api_call", {}))  # per_unit: one band, no position
    assert client.post("/v1/events", json={"events": events}).json()["accepted"] == len(events)
    return client


@pytest.mark.parametrize("customer", ["alpha", "bravo", "charlie"])
def test_the_console_shows_the_previews_hint_for_each_banded_line(api, customer):
    preview = api.post(f"/v1/customers/{customer}/preview", json={"events": []}).json()
    expected = {
        u["line"]: (
            u["hint"]["tier"] + 1,
            u["hint"]["unit_price"],
            u["hint"]["units_to_next_tier"] or "",
        )
        for u in preview["usage_lines"]
        if u["hint"] is not None and (u["hint"]["up_to"] is not None or u["hint"]["tier"] > 0)
    }
    html = page(api, token_of(api, customer)).text
    shown = {int(line): (int(tier), price, to_next) for line, tier, price, to_next, _ in ROW.findall(html)}
    assert shown == expected
    assert (customer == "alpha") == (shown == {})


def test_a_volume_line_full_at_its_up_to_is_in_the_next_band_on_both(api):
    preview = api.post("/v1/customers/bravo/preview", json={"events": []}).json()
    (storage,) = [u for u in preview["usage_lines"] if u["metric"] == "storage_gb"]
    assert storage["hint"]["tier"] == 1 and storage["hint"]["unit_price"] == "0.05"  # the next unit's
    html = page(api, token_of(api)).text
    rows = {int(line): cells for line, _, _, _, cells in ROW.findall(html)}
    cells = rows[storage["line"]]
    assert ">2<" in cells and "$0.05" in cells and "last tier" in cells
    (calls,) = [u for u in preview["usage_lines"] if u["metric"] == "api_calls"]
    assert "in 3 at $0.25" in rows[calls["line"]]
