"""One bad row never stops the good ones: each reproduction, a chunk at a time, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.services.ingest import ingest_records
from billing.sources.usage_files import RawRecord, record_of_line
from billing.store.catalog_versions import save_catalog
from billing.store.models import Event, QuarantinedEvent

NOW = datetime(2026, 3, 20, tzinfo=UTC)
CATALOG = parse_catalog(
    {
        "currency": "USD",
        "metrics": [
            {"code": "calls", "event_type": "call", "aggregation": "count"},
            {"code": "storage", "event_type": "storage", "aggregation": "sum", "field": "gb"},
        ],
        "plans": [
            {
                "code": "std",
                "interval": "monthly",
                "charges": [{"metric": "storage", "model": "per_unit", "unit_price": "0.10"}],
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


def _good(txid: str, **properties: object) -> bytes:
    event_type = "storage" if properties else "call"
    row = {"transaction_id": txid, "customer_id": "acme", "event_type": event_type}
    row |= {"timestamp": "2026-03-05T10:00:00Z", "properties": properties}
    return json.dumps(row).encode()


def _escaped(line: bytes) -> bytes:
    """JSON escapes (\\u0000, \\ud800) written in a test's source as doubled backslashes."""
    return line.replace(b"\\\\", b"\\")


BAD_LINES = {
    "invalid UTF-8": (b'{"transaction_id": "b1", "customer_id": "acme\xff"}', "unreadable_row"),
    "NUL byte": (_good("b2") + b"\x00", "unreadable_row"),
    "NUL escape": (_escaped(_good("b3", gb=1, note="a\\u0000b")), "unreadable_row"),
    "lone surrogate": (_escaped(_good("b4", gb=1, region="api\\ud800")), "unreadable_row"),
    "year 1 in UTC": (
        _good("b5").replace(b"2026-03-05T10:00:00Z", b"0001-01-01T00:00:00+01:00"),
        "timestamp_out_of_range",
    ),
    "year 10000 in UTC": (
        _good("b6").replace(b"2026-03-05T10:00:00Z", b"9999-12-31T23:59:59-01:00"),
        "timestamp_out_of_range",
    ),
    "before 2000": (
        _good("b7").replace(b"2026-03-05T10:00:00Z", b"1999-12-31T23:59:59Z"),
        "timestamp_out_of_range",
    ),
    "far future": (_good("b8").replace(b"2026-03-05T10:00:00Z", b"9000-01-01T00:00:00Z"), "future_timestamp"),
    "nested 100,000 deep": (
        _good("b9", gb=1)[:-2] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
        "unreadable_row",
    ),
    "nested 30,000 deep": (
        _good("b10", gb=1)[:-2] + b', "x": ' + b"[" * 30_000 + b"]" * 30_000 + b"}}",
        "unreadable_row",
    ),
    "nested 40 deep": (
        _good("b11", gb=1)[:-2] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}}",
        "unreadable_row",
    ),
    "id over 255": (_good("b" * 256), "unreadable_row"),
    "row over 64 KiB": (_good("b13", gb=1, pad="x" * 70_000), "unreadable_row"),
    "unknown event type": (_good("b14").replace(b'"call"', b'"api_call"'), "unknown_event_type"),
    "30-digit gb": (_good("b15", gb=int("9" * 30)), "invalid_property"),
    "negative gb": (_good("b16", gb=-28997), "invalid_property"),
    "gb not a number": (_good("b17", gb="lots"), "invalid_property"),
    "not JSON": (b'{"transaction_id": "b18",', "malformed_json"),
    "unknown customer": (_good("b19").replace(b'"acme"', b'"nobody"'), "unknown_customer"),
}


@pytest.fixture
def stored(engine):
    with engine.begin() as connection:
        save_catalog(connection, CATALOG, "test", NOW)
    return engine


def _ingest(engine, suite, lines, source="test"):
    records = [record_of_line(n, line) for n, line in enumerate(lines, start=1)]
    return ingest_records(engine, CATALOG, suite, records, source, NOW)


def _stored_ids(engine):
    with engine.connect() as connection:
        return set(connection.scalars(sa.select(Event.transaction_id)))


def _held(engine):
    with engine.connect() as connection:
        return {r.line: r for r in connection.execute(sa.select(QuarantinedEvent))}


@pytest.mark.parametrize("case", BAD_LINES)
def test_one_bad_row_is_quarantined_and_the_rest_of_its_chunk_stored(stored, event_suite, case):
    line, reason = BAD_LINES[case]
    report = _ingest(stored, event_suite, [_good("g1"), line, _good("g2", gb="12.5")])
    assert (report.received, report.accepted, report.quarantined) == (3, 2, 1)
    assert dict(report.reasons) == {reason: 1}
    assert _stored_ids(stored) == {"g1", "g2"}
    held = _held(stored)[2]
    assert held.reason == reason
    assert "\n" not in held.detail and held.detail


def test_every_bad_row_of_one_chunk_is_held_with_its_own_reason(stored, event_suite):
    lines = [_good("g1"), *(line for line, _ in BAD_LINES.values()), _good("g2")]
    report = _ingest(stored, event_suite, lines)
    assert report.balanced and report.accepted == 2
    assert sorted(r.reason for r in _held(stored).values()) == sorted(r for _, r in BAD_LINES.values())


def test_a_decimal_string_is_stored_as_a_number_sql_meters_exactly(stored, event_suite):
    _ingest(stored, event_suite, [_good("s1", gb="1000.00"), _good("s2", gb=0.1)])
    with stored.connect() as connection:
        properties = dict(connection.execute(sa.select(Event.transaction_id, Event.properties)).all())
    assert properties == {"s1": {"gb": Decimal("1000.00")}, "s2": {"gb": Decimal("0.1")}}
    again = _ingest(stored, event_suite, [_good("s1", gb=1000)])  # the same number: a duplicate
    assert (again.duplicates, again.quarantined) == (1, 0)


def test_a_row_the_database_refuses_fails_only_itself(stored, event_suite):
    refuse = {
        "postgresql": [
            "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW "
            "WHEN (NEW.transaction_id = 'refused') EXECUTE FUNCTION refuse_row()",
        ],
        "sqlite": [
            "CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.transaction_id = 'refused' "
            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ],
    }[stored.dialect.name]
    with stored.begin() as connection:
        for statement in refuse:
            connection.execute(sa.text(statement))
    try:
        report = _ingest(stored, event_suite, [_good("g1"), _good("refused"), _good("g2")])
    finally:
        with stored.begin() as connection:
            connection.execute(
                sa.text("DROP TRIGGER refuse" + (" ON events" if stored.dialect.name == "postgresql" else ""))
            )
            if stored.dialect.name == "postgresql":
                connection.execute(sa.text("DROP FUNCTION refuse_row()"))
    assert (report.accepted, dict(report.reasons)) == (2, {"unreadable_row": 1})
    assert _stored_ids(stored) == {"g1", "g2"}
    held = _held(stored)[2]
    assert held.transaction_id == "refused"
    assert "the database refused the row" in held.detail and "refused by the test" in held.detail


def test_an_http_record_holding_what_no_database_stores_is_held_escaped(stored, event_suite):
    data = {"transaction_id": "h\ud800", "customer_id": "acme\x00", "event_type": "call"}
    report = ingest_records(stored, CATALOG, event_suite, [RawRecord(0, data=data)], "http", NOW)
    assert dict(report.reasons) == {"unreadable_row": 1}
    held = _held(stored)[0]
    assert held.payload == '{"customer_id":"acme\\u0000","event_type":"call","transaction_id":"h\\ud800"}'
    assert held.transaction_id == "h\\ud800"


# -- the property: arbitrary rows mixed with good ones -----------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.text(max_size=8) | st.integers() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "transaction_id": st.text(max_size=6) | json_values,
        "customer_id": st.sampled_from(["acme", "nobody", ""]) | json_values,
        "event_type": st.sampled_from(["call", "storage", "other"]) | json_values,
        "timestamp": st.sampled_from(
            ["2026-03-05T10:00:00Z", "0001-01-01T00:00:00+01:00", "2099-01-01T00:00:00Z"]
        )
        | json_values,
        "properties": st.fixed_dictionaries({}, optional={"gb": json_values}) | json_values,
    },
)
bad_lines = st.one_of(
    st.binary(min_size=1, max_size=120).filter(lambda b: b"\n" not in b and b.strip()),
    event_like.map(lambda d: json.dumps(d).encode()),
    event_like.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-8", "surrogatepass")),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_arbitrary_rows_never_stop_the_good_ones(stored, event_suite, data):
    example = data.draw(st.uuids()).hex[:12]
    good = [_good(f"good-{example}-{n}", gb=n) for n in range(data.draw(st.integers(1, 4)))]
    bad = data.draw(st.lists(bad_lines, min_size=1, max_size=8))
    lines = data.draw(st.permutations(good + bad))
    report = _ingest(stored, event_suite, lines)
    assert report.received == len(lines) == report.accepted + report.duplicates + report.quarantined
    stored_ids = _stored_ids(stored)
    assert {f"good-{example}-{n}" for n in range(len(good))} <= stored_ids


def test_decimal_strings_are_metered_exactly_by_the_invoice_run_sql(stored, event_suite):
    from billing.store.metering_sql import meter_segments

    _ingest(stored, event_suite, [_good(f"d{n}", gb="0.1") for n in range(3)] + [_good("d3", gb=0.2)])
    segment = ("acme", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    with stored.connect() as connection:
        usage = meter_segments(connection, CATALOG, [segment])
    assert usage[segment]["storage"].quantity == Decimal("0.5")
