"""Chunks validated at once from several threads share one Great Expectations run per catalog
(the API's concurrent requests), and each gets exactly the verdicts it gets validated alone:
its own rows' failures, its own timestamp window (its own `now`), its own catalog's rules."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from billing.core.catalog import parse_catalog
from billing.core.events import format_timestamp
from billing.sources.usage_files import RawRecord
from tests.integration.test_validation_rules import CATALOG, NOW

# the same catalog without the storage metric: "storage" events are unknown to it
OTHER = parse_catalog(
    {
        "currency": "USD",
        "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
        "plans": [
            {
                "code": "std",
                "interval": "monthly",
                "charges": [{"metric": "calls", "model": "per_unit", "unit_price": "1"}],
            }
        ],
        "customers": [],
    }
)


def _chunk(seed: int) -> list[RawRecord]:
    """Rows around chunk `seed`'s own window end (its now is NOW + seed seconds), and a few
    failing other rules, at positions that differ per chunk."""
    now = NOW + timedelta(seconds=seed)
    end = now + timedelta(minutes=5)
    rows: list[dict[str, Any]] = [
        {"timestamp": format_timestamp(end)},  # the window's last instant: in
        {"timestamp": format_timestamp(end + timedelta(microseconds=1))},  # out
        {"timestamp": format_timestamp(end + timedelta(seconds=1))},  # out for this one, in for seed+1
        {"timestamp": "1999-12-31T23:59:59.999999Z", "event_type": "nope"},
        {"event_type": "storage", "properties": {"gb": -1}},
        {"customer_id": None},
    ]
    records = []
    for n in range(20 + seed):
        row = {
            "transaction_id": f"t{seed}-{n}",
            "customer_id": "acme",
            "event_type": "call",
            "timestamp": "2026-03-05T10:00:00Z",
            "properties": {},
            **(rows[(n // (seed + 1)) % len(rows)] if n % (seed + 1) == 0 else {}),
        }
        records.append(RawRecord(n, data=row))
    return records


def _verdicts(checked: Any) -> dict[int, tuple[str, str]]:
    return {index: (v.reason, v.detail) for index, v in checked.failed.items()}


def test_concurrent_chunks_run_together_and_each_gets_the_verdicts_it_gets_alone(event_suite, monkeypatch):
    seeds = range(1, 7)
    catalogs = {seed: OTHER if seed == 4 else CATALOG for seed in seeds}
    alone = {
        seed: _verdicts(event_suite.validate(_chunk(seed), catalogs[seed], NOW + timedelta(seconds=seed)))
        for seed in seeds
    }
    for seed, verdicts in alone.items():  # each judged by its own window: its end in, past it out
        assert 0 not in verdicts
        assert verdicts[seed + 1][0] == verdicts[2 * (seed + 1)][0] == "future_timestamp"
    runs: list[int] = []
    real_run = event_suite._run

    def counted(chunks, catalog):
        runs.append(len(chunks))
        return real_run(chunks, catalog)

    monkeypatch.setattr(event_suite, "_run", counted)
    together: dict[int, dict[int, tuple[str, str]]] = {}

    def validate(seed: int) -> None:
        now = NOW + timedelta(seconds=seed)
        together[seed] = _verdicts(event_suite.validate(_chunk(seed), catalogs[seed], now))

    threads = [threading.Thread(target=validate, args=(seed,)) for seed in seeds]
    with event_suite._runs._running:  # a run in progress: every chunk queues behind it
        for thread in threads:
            thread.start()
        _wait_until(lambda: len(event_suite._runs._waiting) == len(seeds))
    for thread in threads:
        thread.join(60)
    assert together == alone
    assert sorted(runs) == [1, 5]  # one run per catalog, all six chunks in one turn


def test_a_chunk_whose_run_fails_fails_alone(event_suite, monkeypatch):
    real_run = event_suite._run

    def failing(chunks, catalog):
        if any(len(chunk.table) == 25 for chunk in chunks):  # chunk 5's rows
            raise RuntimeError("expectation could not run: boom")
        return real_run(chunks, catalog)

    monkeypatch.setattr(event_suite, "_run", failing)
    outcomes: dict[int, Any] = {}

    def validate(seed: int) -> None:
        try:
            outcomes[seed] = _verdicts(event_suite.validate(_chunk(seed), CATALOG, NOW))
        except RuntimeError as error:
            outcomes[seed] = str(error)

    threads = [threading.Thread(target=validate, args=(seed,)) for seed in (2, 5, 6)]
    with event_suite._runs._running:
        for thread in threads:
            thread.start()
        _wait_until(lambda: len(event_suite._runs._waiting) == 3)
    for thread in threads:
        thread.join(60)
    assert outcomes[5] == "expectation could not run: boom"
    assert outcomes[2] == _verdicts(event_suite.validate(_chunk(2), CATALOG, NOW))
    assert outcomes[6] == _verdicts(event_suite.validate(_chunk(6), CATALOG, NOW))


def _wait_until(condition: Any) -> None:
    for _ in range(2000):
        if condition():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the chunks did not queue")
