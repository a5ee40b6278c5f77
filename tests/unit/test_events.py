"""One event's own checks, and numbers kept exact and in range."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.core.events import EventRejected, dumps, loads, parse_event, quantity_problem

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
