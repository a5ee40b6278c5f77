"""A realistic month of synthetic usage for the example catalog, with mistakes on purpose.

Deterministic (seeded): the same catalog gives the same file, so running the demo twice ingests
the same events twice and the second run must find only duplicates.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from billing.core.catalog import Catalog, Customer

MONTH_START = date(2026, 10, 1)
MONTH_END = date(2026, 11, 1)  # exclusive

# events per customer and month by plan: (api calls, logins, llm requests, payments)
_VOLUME = {
    "starter": (900, 0, 60, 0),
    "pro": (2400, 300, 0, 0),
    "business": (3000, 0, 0, 250),
    "scale": (0, 0, 700, 0),
}


@dataclass(frozen=True, slots=True)
class DemoUsage:
    path: Path
    events: int  # good events written, before the bad rows and repeats
    bad_rows: int
    duplicates: int
    conflicts: int


def _instant(rng: random.Random, first: date, last: date) -> datetime:
    start = datetime.combine(first, time(), UTC)
    seconds = int((datetime.combine(last, time(), UTC) - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(max(seconds, 1)))


def _iso(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def _window(customer: Customer) -> tuple[date, date] | None:
    """The days of the demo month a customer's contracts (trials included) cover."""
    first = max(MONTH_START, min(c.starts_on for c in customer.contracts))
    ends = [c.last_day for c in customer.contracts]
    last = (
        MONTH_END
        if any(e is None for e in ends)
        else min(MONTH_END, max(e for e in ends if e) + timedelta(days=1))
    )
    return (first, last) if first < last else None


def _customer_events(rng: random.Random, customer: Customer) -> Iterator[dict[str, Any]]:
    window = _window(customer)
    if window is None:
        return
    first, last = window
    plan = customer.contracts[-1].plan
    calls, logins, llm, payments = _VOLUME.get(plan, (500, 0, 0, 0))
    scale = rng.uniform(0.4, 1.6) * (last - first).days / 31

    def event(kind: str, n: int, properties: dict[str, Any]) -> dict[str, Any]:
        return {
            "transaction_id": f"{customer.id}-{kind}-{n:06d}",
            "customer_id": customer.id,
            "event_type": kind,
            "timestamp": _iso(_instant(rng, first, last)),
            "properties": properties,
        }

    endpoints = ["/v1/search", "/v1/orders", "/v1/users", "/v1/reports"]
    for n in range(int(calls * scale)):
        yield event("api_call", n, {"endpoint": rng.choice(endpoints)})
    users = [f"user-{i:03d}" for i in range(rng.randint(5, 40))]
    for n in range(int(logins * scale)):
        yield event("login", n, {"user_id": rng.choice(users)})
    for n in range(int(llm * scale)):
        yield event("llm_request", n, {"tokens": rng.randint(200, 4000), "model": "small"})
    for n in range(int(payments * scale)):
        yield event("payment", n, {"amount": f"{rng.randint(500, 50000) / 100:.2f}", "currency": "USD"})
    day = first
    while day < last:
        gb = f"{rng.uniform(5, 120):.2f}"
        region = "eu" if rng.random() < 0.8 else "us"
        yield {
            **event("storage", (day - first).days, {"gb": gb, "region": region}),
            "timestamp": _iso(datetime.combine(day, time(12), UTC)),
        }
        if plan == "business" and day.weekday() == 0:
            yield event("seat_count", (day - first).days, {"seats": rng.randint(8, 30)})
        day += timedelta(days=1)


def _line(record: dict[str, Any]) -> str:
    """JSON with numbers written as numbers (amounts keep their cents: 12.50 stays 12.50)."""
    text = json.dumps(record, separators=(",", ":"))
    for key in ("gb", "amount"):
        value = record.get("properties", {}).get(key)
        if isinstance(value, str):
            text = text.replace(f'"{key}":"{value}"', f'"{key}":{value}')
    return text


def _mistakes(good: list[dict[str, Any]], customers: list[str]) -> list[str]:
    """Rows that must end in quarantine, each for a different reason."""
    sample = good[0]
    bad = [
        '{"transaction_id": "broken-1", "customer_id": ',  # truncated line
        "not json at all",
        '{"transaction_id": "broken-3"',
        json.dumps({**sample, "transaction_id": "nocust-1", "customer_id": None}),
        json.dumps({k: v for k, v in sample.items() if k != "timestamp"} | {"transaction_id": "nots-1"}),
        json.dumps({**sample, "transaction_id": "ghost-1", "customer_id": "no-such-customer"}),
        json.dumps({**sample, "transaction_id": "ghost-2", "customer_id": "deleted-customer"}),
        json.dumps({**sample, "transaction_id": "future-1", "timestamp": "2099-01-01T00:00:00Z"}),
        json.dumps({**sample, "transaction_id": "badts-1", "timestamp": "yesterday"}),
        json.dumps(
            {
                "transaction_id": "badgb-1",
                "customer_id": customers[0],
                "event_type": "storage",
                "timestamp": "2026-10-05T12:00:00Z",
                "properties": {"gb": "twelve", "region": "eu"},
            }
        ),
    ]
    return bad


def write_demo_usage(catalog: Catalog, path: Path, seed: int = 2026) -> DemoUsage:
    """Write the month's usage as JSONL; returns what went in, mistakes included."""
    rng = random.Random(seed)
    good: list[dict[str, Any]] = []
    for customer in catalog.customers:
        good.extend(_customer_events(rng, customer))
    rng.shuffle(good)
    lines = [_line(record) for record in good]
    repeats = [lines[i] for i in rng.sample(range(len(lines)), 40)]
    conflicts = []
    for record in good[:3]:  # same transaction id, another payload: the original must win
        changed = {**record, "timestamp": "2026-10-31T23:59:59Z"}
        conflicts.append(_line(changed))
    bad = _mistakes(good, [c.id for c in catalog.customers])
    extras = repeats + conflicts + bad
    rng.shuffle(extras)  # after the originals, so the first payload of an id is the one kept
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines + extras) + "\n", encoding="utf-8")
    tmp.replace(path)
    return DemoUsage(path, len(lines), len(bad), len(repeats), len(conflicts))
