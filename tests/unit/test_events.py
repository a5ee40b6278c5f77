"""One event's own checks, and numbers kept exact and in range."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.core.events import (
    EARLIEST_TIMESTAMP,
    MAX_ROW_BYTES,
    EventRejected,
    UsageEvent,
    canonical_payload,
    decode_row,
    dumps,
    format_timestamp,
    loads,
    parse_event,
    quantity_problem,
    read_row,
    storable,
)

REASONS = {
    "malformed_json",
    "malformed_field",
    "missing_field",
    "timestamp_out_of_range",
    "invalid_property",
    "unreadable_row",
}

EVENT = {
    "transaction_id": "t1",
    "customer_id": "acme",
    "event_type": "api_call",
    "timestamp": "2026-03-01T00:00:00Z",
}


def test_numbers_are_read_exactly_and_written_canonically():
    data = loads('{"gb": 12.50, "n": 1E+2, "tiny": 0.000000000000000000001}')
    assert data == {"gb": Decimal("12.50"), "n": Decimal("100"), "tiny": Decimal("1E-21")}
    assert dumps(data) == '{"gb":12.5,"n":100,"tiny":0.000000000000000000001}'


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        ' {"a": 1}\n',  # whitespace around: `decode`'s path
        '{"a": 1} {"b": 2}',
        '{"a": 1}x',
        "",
        "{",
        "[1, 2",
        '{"a": 1, "a": 2}',
        "tru",
        "-",
        "-0",
        '"\\ud800"',
        '{"a": ' * 40,
    ],
)
def test_loads_reads_and_refuses_as_the_decoder_does(text):
    """`loads` takes the scanner alone for a row that is one value end to end: the same value,
    and the same error with the same message for everything else."""
    from billing.core.events import _DECODER

    def outcome(read):
        try:
            return "value", read(text)
        except (ValueError, RecursionError) as error:
            return type(error).__name__, str(error)

    assert outcome(loads) == outcome(_DECODER.decode)


@pytest.mark.parametrize("text", ['{"x": NaN}', '{"x": Infinity}', '{"x": -Infinity}'])
def test_nan_and_infinity_are_not_json_numbers(text):
    with pytest.raises(ValueError, match="not a number"):
        loads(text)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("12.5", None),
        ("999999999999999999999999999999", None),  # 30 digits
        ("1e30", "too large"),
        ("0.000000000000000000000000000001", None),  # 30 decimals
        ("1e-31", "too many decimals"),
        ("1.500000000000000000000000000000000000000", None),  # trailing zeros do not count
    ],
)
def test_quantities_are_bounded_so_that_sums_stay_exact(value, problem):
    found = quantity_problem(Decimal(value))
    assert (found is None) if problem is None else (problem in found)


def test_an_out_of_range_property_is_refused_with_its_path():
    with pytest.raises(EventRejected) as rejected:
        parse_event({**EVENT, "properties": {"usage": {"gb": Decimal("1e50")}}})
    assert rejected.value.reason == "invalid_property"
    assert rejected.value.detail.startswith("properties.usage.gb is too large")


@pytest.mark.parametrize(
    ("change", "reason", "fragment"),
    [
        ({"transaction_id": None}, "missing_field", "transaction_id is missing"),
        ({"customer_id": 42}, "malformed_field", "customer_id must be a string"),
        ({"timestamp": "2026-03-01T00:00:00"}, "malformed_field", "has no UTC offset"),
        ({"timestamp": "yesterday"}, "malformed_field", "is not ISO 8601"),
        ({"properties": [1, 2]}, "malformed_field", "properties must be a JSON object"),
        ({"extra": 1}, "malformed_field", "unknown field 'extra'"),
    ],
)
def test_shape_problems_name_the_reason_and_the_field(change, reason, fragment):
    with pytest.raises(EventRejected) as rejected:
        parse_event({**EVENT, **change})
    assert rejected.value.reason == reason
    assert fragment in rejected.value.detail


def test_unix_seconds_are_exact_to_the_microsecond():
    event = parse_event({**EVENT, "timestamp": Decimal("1772323200.123456")})
    assert event.timestamp.isoformat() == "2026-03-01T00:00:00.123456+00:00"


# -- rows that cannot be read, stored or bounded: one named reason each, never an exception ----


def _rejected(call, *args):
    with pytest.raises(EventRejected) as rejected:
        call(*args)
    return rejected.value


def _line(**change):
    return json.dumps({**EVENT, **change})


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (b'{"transaction_id": "t\xff1"}', "not UTF-8 text (invalid start byte at byte 21)"),
        (b'{"transaction_id": "t1"}\x00', "NUL byte (at character 24)"),
        (b"{" + b" " * MAX_ROW_BYTES + b"}", "over the limit of 65,536"),
    ],
)
def test_a_row_that_is_not_text_is_unreadable(line, fragment):
    rejection = _rejected(decode_row, line)
    assert rejection.reason == "unreadable_row"
    assert fragment in rejection.detail


def test_a_row_of_the_size_limit_is_read():
    line = _line(properties={"pad": "x" * 100})
    padded = line[:-1] + " " * (MAX_ROW_BYTES - len(line)) + "}"
    assert len(padded.encode()) == MAX_ROW_BYTES
    assert parse_event(read_row(decode_row(padded.encode()))).transaction_id == "t1"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        (_line(customer_id="ac\\u0000me").replace("\\\\", "\\"), 'customer_id "ac\\u0000me" contains a NUL'),
        (_line(properties={"path": "a\\u0000b"}).replace("\\\\", "\\"), "properties.path contains a NUL"),
        (_line(event_type="api\\ud800").replace("\\\\", "\\"), "contains a lone surrogate (\\ud800)"),
        (_line(properties={"k\\udc00": 1}).replace("\\\\", "\\"), "a property name in properties contains"),
        (_line(transaction_id="t" * 256), "is 256 characters, over 255"),
    ],
)
def test_strings_no_database_can_store_are_unreadable(line, fragment):
    rejection = _rejected(parse_event, read_row(line))
    assert rejection.reason == "unreadable_row"
    assert fragment in rejection.detail
    rejection.detail.encode("utf-8")  # the detail itself is storable text


def test_an_id_of_255_characters_is_read():
    assert parse_event(read_row(_line(transaction_id="t" * 255))).transaction_id == "t" * 255


@pytest.mark.parametrize(
    ("depth", "fragment"), [(100_000, "over the limit of 65,536 bytes"), (30_000, "nested deeper than 32")]
)
def test_nesting_thousands_deep_is_unreadable(depth, fragment):
    line = _line()[:-1] + ', "properties": {"a": ' + "[" * depth + "]" * depth + "}}"
    rejection = _rejected(lambda: parse_event(read_row(line)))
    assert rejection.reason == "unreadable_row"
    assert fragment in rejection.detail


def _nested(levels):
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def test_nesting_is_bounded_at_32_levels_counting_the_event():
    assert parse_event({**EVENT, "properties": {"a": _nested(30)}})  # 1 + 1 + 30 levels
    rejection = _rejected(parse_event, {**EVENT, "properties": {"a": _nested(31)}})
    assert (rejection.reason, rejection.detail) == (
        "unreadable_row",
        "properties.a" + "[0]" * 30 + " is nested deeper than 32 levels",
    )


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("0001-01-01T00:00:00+01:00", "timestamp_out_of_range"),  # before year 1 in UTC
        ("9999-12-31T23:59:59-01:00", "timestamp_out_of_range"),  # after year 9999 in UTC
        ("1999-12-31T23:59:59.999999Z", "timestamp_out_of_range"),
        (Decimal("1e30"), "timestamp_out_of_range"),
        (Decimal("946684799"), "timestamp_out_of_range"),  # 1999-12-31T23:59:59Z
        ("2026-03-01", "malformed_field"),
        (True, "malformed_field"),
    ],
)
def test_timestamps_out_of_range_are_named(timestamp, reason):
    assert _rejected(parse_event, {**EVENT, "timestamp": timestamp}).reason == reason


def test_the_first_instant_of_2000_is_in_range():
    assert parse_event({**EVENT, "timestamp": "2000-01-01T01:00:00+01:00"}).timestamp == EARLIEST_TIMESTAMP
    assert parse_event({**EVENT, "timestamp": Decimal("946684800")}).timestamp == EARLIEST_TIMESTAMP


def test_properties_must_be_an_object_when_present():
    assert parse_event({**EVENT, "properties": None}).properties == {}
    assert _rejected(parse_event, {**EVENT, "properties": False}).reason == "malformed_field"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "malformed_json"),
        ('{"a": 1} {"b": 2}', "malformed_json"),
        ('{"a": NaN}', "malformed_json"),
        ('{"a": "\\ud800"}', None),  # parses; parse_event refuses it
    ],
)
def test_json_text_problems(text, reason):
    if reason is None:
        assert read_row(text) == {"a": "\ud800"}
    else:
        assert _rejected(read_row, text).reason == reason


def test_storable_escapes_what_databases_refuse():
    assert storable("plain") == "plain"
    assert storable("é\x00\ud800") == "é\\u0000\\ud800"


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | st.integers().map(Decimal)
    | st.decimals(-(10**6), 10**6, places=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=20,
)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.fixed_dictionaries(
            {},
            optional={k: JSON_VALUES for k in ("transaction_id", "customer_id", "event_type", "timestamp")}
            | {"properties": JSON_VALUES, "extra": JSON_VALUES},
        ).map(lambda d: dumps(d).encode("utf-8", "surrogatepass")),
    )
)
def test_any_bytes_are_an_event_or_a_named_rejection(line):
    try:
        event = parse_event(read_row(decode_row(line)))
    except EventRejected as rejection:
        assert rejection.reason in REASONS
        rejection.detail.encode("utf-8")
    else:
        dumps([event.transaction_id, event.customer_id, event.event_type, event.properties]).encode("utf-8")
        assert event.timestamp >= EARLIEST_TIMESTAMP


def test_a_number_past_the_exact_precision_is_shown_in_its_short_form() -> None:
    from billing.core.events import shown

    long = Decimal("1." + "1" * 300)  # 301 digits: past what `plain` writes exactly
    assert shown(long) == str(long)[:77] + "..."


# -- the fast paths of writing JSON keep their results --------------------------------------


@given(st.text())
def test_a_string_is_written_as_json_dumps_writes_it(text):
    assert dumps(text) == json.dumps(text, ensure_ascii=False)
    written = json.dumps(text, ensure_ascii=False)
    assert dumps({text: [text]}) == f"{{{written}:[{written}]}}"


@given(
    st.dictionaries(
        st.text(max_size=5),
        st.none() | st.booleans() | st.text(max_size=5) | st.decimals(-(10**6), 10**6, places=3),
        max_size=4,
    ),
    st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
)
def test_the_canonical_payload_is_the_payload_hash_and_json_written_once(properties, instant):
    event = UsageEvent("t", "acme", "call", instant, properties)
    canonical = dumps(["acme", "call", format_timestamp(instant), properties])
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    assert canonical_payload(event) == (dumps(properties), format_timestamp(instant), digest)
    assert event.payload_hash == canonical_payload(event)[2]


@pytest.mark.parametrize(
    "line",
    [
        '{"transaction_id": "a", "customer_id": "acme", "customer_id": "victim"}',
        '{"transaction_id": "a", "properties": {"gb": 1, "gb": 2}}',
    ],
)
def test_an_object_naming_a_field_twice_is_malformed(line: str) -> None:
    with pytest.raises(EventRejected) as rejected:
        read_row(line)
    assert rejected.value.reason == "malformed_json"
    assert "appears twice in one object" in rejected.value.detail
