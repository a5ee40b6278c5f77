"""The catalog's expectation suite on chunks: each rule family rejects its rows and stores the
rest, a row failing several rules names them all, numbers are compared exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.sources.usage_files import RawRecord, record_of_line
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, QuarantinedEvent
from billing.validation.rules import REASON_PRIORITY, RuleFailure, verdict

NOW = datetime(2026, 3, 20, tzinfo=UTC)
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "calls", "event_type": "call", "aggregation": "count"},
            {"code": "storage", "event_type": "storage", "aggregation": "max", "field": "gb"},
            {"code": "users", "event_type": "login", "aggregation": "unique_count", "field": "user"},
            {
                "code": "refunds",
                "event_type": "payment",
                "aggregation": "sum",
                "field": "amount",
                "allow_negative": True,
            },
            {
                "code": "eu_gb",
                "event_type": "eu",
                "aggregation": "sum",
                "field": "gb",
                "filters": {"region": "eu"},
            },
        ],
        "plans": [
            {
                "code": "std",
                "interval": "monthly",
                # 1000 a unit: 999999999999.999 units is the most one invoice line bills
                "charges": [{"metric": "storage", "model": "per_unit", "unit_price": "1000"}],
            }
        ],
        "customers": [
            {
                "id": "acme",
                "email": "a@acme.example",
                "contracts": [{"plan": "std", "starts_on": "2026-03-01"}],
            }
        ],
    }
)


def _row(txid: str, event_type: str = "call", **properties: object) -> dict[str, object]:
    return {
        "transaction_id": txid,
        "customer_id": "acme",
        "event_type": event_type,
        "timestamp": "2026-03-05T10:00:00Z",
        "properties": properties,
    }


def _line(row: dict[str, object]) -> bytes:
    return json.dumps(row).encode()


@pytest.fixture
def stored(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    return engine


def _ingest(engine, suite, lines):
    records = [record_of_line(n, line) for n, line in enumerate(lines, start=1)]
    return ingest_records(engine, CATALOG, suite, records, "test", NOW)


def _held(engine):
    with engine.connect() as connection:
        return {r.line: r for r in connection.execute(sa.select(QuarantinedEvent))}


def _stored(engine):
    with engine.connect() as connection:
        return dict(connection.execute(sa.select(Event.transaction_id, Event.properties)).all())


RULE_FAMILIES = {
    "missing customer_id": ({**_row("b"), "customer_id": None}, "missing_field", "customer_id is missing"),
    "customer_id a number": (
        {**_row("b"), "customer_id": 42},
        "malformed_field",
        "customer_id must be a string",
    ),
    "timestamp a boolean": ({**_row("b"), "timestamp": True}, "malformed_field", "timestamp must be an ISO"),
    "properties a list": (
        {**_row("b"), "properties": [1]},
        "malformed_field",
        "properties must be a JSON object",
    ),
    "unknown event type": (_row("b", "api_call"), "unknown_event_type", 'counts event_type "api_call"'),
    "before 2000": (
        {**_row("b"), "timestamp": "1999-12-31T23:59:59Z"},
        "timestamp_out_of_range",
        "before 2000",
    ),
    "year 1500": ({**_row("b"), "timestamp": "1500-01-01T00:00:00Z"}, "timestamp_out_of_range", "1500-01-01"),
    "six minutes ahead": (
        {**_row("b"), "timestamp": "2026-03-20T00:06:00Z"},
        "future_timestamp",
        "timestamp 2026-03-20T00:06:00Z is more than 5 minutes in the future",
    ),
    "year 3000": (
        {**_row("b"), "timestamp": "3000-01-01T00:00:00Z"},
        "future_timestamp",
        "3000-01-01T00:00:00Z",
    ),
    "gb missing": (_row("b", "storage"), "invalid_property", "property 'gb' is missing (metric 'storage'"),
    "gb a word": (
        _row("b", "storage", gb="lots"),
        "invalid_property",
        "must be a number or a decimal string",
    ),
    "gb a boolean": (_row("b", "storage", gb=True), "invalid_property", "got true"),
    "gb negative": (_row("b", "storage", gb="-0.5"), "invalid_property", "is negative (-0.5)"),
    "gb past the bound": (
        _row("b", "storage", gb="999999999999.99901"),
        "invalid_property",
        "(at most 999999999999.999)",
    ),
    "user a boolean": (_row("b", "login", user=False), "invalid_property", "must be a string or a number"),
    "filtered gb a word": (_row("b", "eu", gb="x", region="eu"), "invalid_property", "metric 'eu_gb'"),
}


@pytest.mark.parametrize("case", RULE_FAMILIES)
def test_each_rule_rejects_its_row_and_the_rest_of_the_chunk_is_stored(stored, event_suite, case):
    row, reason, fragment = RULE_FAMILIES[case]
    good = [_row("g1"), _row("g2", "storage", gb="999999999999.999"), _row("g3", "payment", amount="-12.5")]
    report = _ingest(stored, event_suite, [_line(good[0]), _line(row), *map(_line, good[1:])])
    assert (report.received, report.accepted, dict(report.reasons)) == (4, 3, {reason: 1})
    assert set(_stored(stored)) == {"g1", "g2", "g3"}
    held = _held(stored)[2]
    assert held.reason == reason
    assert fragment in held.detail, held.detail


def test_numbers_are_compared_exactly_at_the_bound(stored, event_suite):
    # as floats 999999999999.99901 and the bound 999999999999.999 compare the other way round
    lines = [_line(_row("at", "storage", gb=Decimal("999999999999.999").__str__()))]
    lines.append(
        b'{"transaction_id": "past", "customer_id": "acme", "event_type": "storage", '
        b'"timestamp": "2026-03-05T10:00:00Z", "properties": {"gb": 999999999999.99901}}'
    )
    report = _ingest(stored, event_suite, lines)
    assert (report.accepted, dict(report.reasons)) == (1, {"invalid_property": 1})
    assert _stored(stored) == {"at": {"gb": Decimal("999999999999.999")}}


def test_a_row_failing_several_rules_names_all_of_them_first_by_priority(stored, event_suite):
    row = {
        "transaction_id": "m1",
        "event_type": "api_call",
        "timestamp": "2031-01-01T00:00:00Z",
        "properties": {"note": "a\x00b"},
        "extra": 1,
    }
    report = ingest_records(stored, CATALOG, event_suite, [RawRecord(0, data=row)], "http", NOW)
    assert dict(report.reasons) == {"unreadable_row": 1}
    detail = _held(stored)[0].detail
    parts = detail.split("; ")
    assert parts[0] == "properties.note contains a NUL character"
    assert parts[1:] == [
        "customer_id is missing",
        "unknown field 'extra'",
        "timestamp 2031-01-01T00:00:00Z is more than 5 minutes in the future",
        'no metric of the catalog counts event_type "api_call" (known: call, eu, login, payment, storage)',
    ]


def test_a_row_failing_the_field_rule_and_a_metric_rule_names_both_and_counts_each(stored, event_suite):
    """One expectation states both on their boolean columns: each rule still names its own."""
    row = {**_row("m3", "storage", gb="-3"), "customer_id": None}
    report = _ingest(stored, event_suite, [_line(row), _line(_row("m4", "storage", gb="-1"))])
    assert dict(report.reasons) == {"missing_field": 1, "invalid_property": 1}
    assert _held(stored)[1].detail == (
        "customer_id is missing; property 'gb' is negative (-3) and metric 'storage' does not allow_negative"
    )
    assert dict(report.validation.failures) == {
        "top-level fields present and typed": 1,
        "properties.gb aggregable by metric storage": 2,
    }


def test_a_property_rule_failing_with_a_shape_rule_is_named_too(stored, event_suite):
    row = {**_row("m2", "storage", gb="-3"), "timestamp": "1999-01-01T00:00:00Z"}
    _ingest(stored, event_suite, [_line(row)])
    held = _held(stored)[1]
    assert held.reason == "timestamp_out_of_range"
    assert held.detail == (
        'timestamp "1999-01-01T00:00:00Z" is before 2000-01-01T00:00:00Z; '
        "property 'gb' is negative (-3) and metric 'storage' does not allow_negative"
    )


def test_a_filter_that_leaves_a_row_out_leaves_its_value_alone(stored, event_suite):
    report = _ingest(stored, event_suite, [_line(_row("f1", "eu", gb="x", region="us"))])
    assert (report.accepted, report.quarantined) == (1, 0)
    assert _stored(stored) == {"f1": {"gb": "x", "region": "us"}}


def test_the_chunk_reports_what_validation_checked(stored, event_suite):
    lines = [_line(_row("s1")), b"not json", _line(_row("s2", "api_call")), _line(_row("s3", "storage"))]
    validation = _ingest(stored, event_suite, lines).validation
    assert (validation.chunks, validation.rows_checked) == (1, 3)
    assert validation.rules[:3] == [
        "top-level fields present and typed",
        "event_type counted by a metric",
        "timestamp from 2000-01-01 to now + 5 minutes",
    ]
    assert "properties.gb aggregable by metric storage" in validation.rules
    assert dict(validation.failures) == {
        "row readable": 1,
        "event_type counted by a metric": 1,
        "properties.gb aggregable by metric storage": 1,
    }
    assert validation.expectation_runs == 4  # the flags (fields, every metric), event types, window (two)


def test_the_reason_is_the_first_failed_rule_by_the_documented_priority():
    failures = [RuleFailure(f"r{n}", reason, reason) for n, reason in enumerate(reversed(REASON_PRIORITY))]
    found = verdict(failures)
    assert found.reason == REASON_PRIORITY[0]
    assert found.detail.split("; ") == list(REASON_PRIORITY)


def test_one_suite_validating_from_many_threads_gives_each_chunk_its_own_verdicts(event_suite):
    """The API validates concurrent requests with the process's one suite (a thread pool)."""
    import threading

    def chunk(seed: int) -> list[RawRecord]:
        # chunk `seed`: its rows at positions divisible by `seed` have an unknown event type
        rows = [_row(f"t{seed}-{i}", "call" if i % seed else "nope") for i in range(40 + seed)]
        return [RawRecord(i, data=row) for i, row in enumerate(rows)]

    expected = {seed: {i for i in range(40 + seed) if i % seed == 0} for seed in range(2, 8)}
    seen: dict[int, set[int]] = {}
    start = threading.Barrier(len(expected))

    def validate(seed: int) -> None:
        start.wait()
        for _ in range(3):
            checked = event_suite.validate(chunk(seed), CATALOG, NOW)
            found = {i for i, v in checked.failed.items() if v.reason == "unknown_event_type"}
            seen[seed] = found if seen.get(seed, found) == found else {-1}

    threads = [threading.Thread(target=validate, args=(seed,)) for seed in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == expected


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-Infinity")])
def test_a_number_that_is_not_finite_is_held_and_the_rest_is_stored(stored, event_suite, value):
    """A Parquet float column can hold NaN and infinities: they reach ingest as Decimals."""
    rows = [
        _row("n1", "storage", gb=Decimal(1)),
        _row("n2", "storage", gb=value),
        _row("n3", "storage", gb=Decimal(2)),
    ]
    report = ingest_records(
        stored, CATALOG, event_suite, [RawRecord(i, data=r) for i, r in enumerate(rows)], "parquet", NOW
    )
    assert (report.accepted, report.quarantined, dict(report.reasons)) == (2, 1, {"invalid_property": 1})
    assert "is not a finite number" in report.rejections[0].detail
    assert set(_stored(stored)) == {"n1", "n3"}
