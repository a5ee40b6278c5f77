"""The catalog's rules on one event: known event types, numbers, signs and billable bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.core.admission import admit_event
from billing.core.catalog import parse_catalog
from billing.core.events import EventRejected, UsageEvent

AT = datetime(2026, 3, 5, tzinfo=UTC)
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
                "charges": [
                    {"metric": "storage", "model": "per_unit", "unit_price": "0.25"},
                    {"metric": "refunds", "model": "percentage", "rate": "2.5"},
                ],
            }
        ],
        "customers": [
            {
                "id": "acme",
                "email": "a@acme.example",
                "contracts": [
                    {"plan": "std", "starts_on": "2026-03-01", "overrides": {0: {"unit_price": "1000"}}}
                ],
            }
        ],
    }
)


def _event(event_type, **properties):
    return UsageEvent("t1", "acme", event_type, AT, properties)


def _rejected(event):
    with pytest.raises(EventRejected) as rejected:
        admit_event(CATALOG, event)
    return rejected.value


def test_an_event_type_no_metric_counts_is_refused_by_name():
    rejection = _rejected(_event("api_call"))
    assert rejection.reason == "unknown_event_type"
    assert rejection.detail == (
        'no metric of the catalog counts event_type "api_call" (known: call, eu, login, payment, storage)'
    )


def test_a_decimal_string_is_stored_as_the_exact_number_it_writes():
    as_text = admit_event(CATALOG, _event("storage", gb="1000.00"))
    as_number = admit_event(CATALOG, _event("storage", gb=Decimal("1000.00")))
    assert as_text.properties == {"gb": Decimal("1000.00")}
    assert isinstance(as_text.properties["gb"], Decimal)
    assert as_text.payload_hash == as_number.payload_hash


@pytest.mark.parametrize("text", ["1,000", " 12", "12.", "0x10", "NaN", "Infinity", "1e", "+1"])
def test_a_string_that_is_not_a_json_number_is_refused(text):
    rejection = _rejected(_event("storage", gb=text))
    assert rejection.reason == "invalid_property"
    assert "must be a number or a decimal string" in rejection.detail


def test_a_decimal_string_past_the_exact_range_is_refused():
    assert "too large" in _rejected(_event("storage", gb="1e40")).detail


def test_unique_count_values_are_kept_as_they_came():
    assert admit_event(CATALOG, _event("login", user="12")).properties == {"user": "12"}


def test_a_string_in_a_field_no_applying_metric_aggregates_is_kept():
    event = admit_event(CATALOG, _event("eu", gb="5", region="us"))  # the filter leaves it out
    assert event.properties == {"gb": "5", "region": "us"}
    assert admit_event(CATALOG, _event("eu", gb="5", region="eu")).properties["gb"] == Decimal(5)


def test_negative_values_need_allow_negative():
    rejection = _rejected(_event("storage", gb=Decimal("-2899.70")))
    assert rejection.reason == "invalid_property"
    assert rejection.detail == (
        "property 'gb' is negative (-2899.7) and metric 'storage' does not allow_negative"
    )
    assert admit_event(CATALOG, _event("payment", amount="-12.50")).properties["amount"] == Decimal("-12.50")


def test_a_value_no_invoice_line_could_bill_is_refused_at_the_tightest_charge():
    # the contract's override prices storage at 1000 a unit: 10^12 - 1 units is the most a line bills
    assert admit_event(CATALOG, _event("storage", gb=Decimal("999999999999.999")))
    rejection = _rejected(_event("storage", gb="1" + "0" * 29))  # a 30-digit value
    assert rejection.reason == "invalid_property"
    assert "is more than an invoice line can bill under the charges on metric 'storage'" in rejection.detail
    assert "(at most 999999999999.999)" in rejection.detail


def test_a_percentage_charge_bounds_by_its_rate_both_signs():
    bound = Decimal("999999999999999") * 100 / Decimal("2.5")
    assert admit_event(CATALOG, _event("payment", amount=-bound))
    assert _rejected(_event("payment", amount=-(bound + 1))).reason == "invalid_property"
