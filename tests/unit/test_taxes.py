"""Taxes (SPEC §4 `tax_rates`): exclusive percentages of the subtotal, one line each rounded once
half-up; prepaid credits burn the taxed total. Amounts worked by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.core.catalog import parse_catalog
from billing.core.credits import CreditGrant, apply_credits
from billing.core.errors import CatalogError
from billing.core.invoicing import draft_invoice
from billing.core.money import Currency, at_minor_units
from billing.core.periods import Schedule
from billing.core.rating import quote
from billing.core.taxes import TaxLine, compute_taxes, tax_total

D = Decimal
USD, JPY, KWD = Currency.of("USD"), Currency.of("JPY"), Currency.of("KWD")
VAT_AND_LEVY = (("VAT", D("20")), ("Levy", D("2.5")))


def _catalog(currency: str = "USD", tax_rates: object = None, amount: str = "100.00") -> dict:
    customer: dict = {
        "id": "acme",
        "email": "a@acme.example",
        "contracts": [
            {
                "plan": "std",
                "starts_on": "2026-01-01",
                "credits": [{"amount": "50", "granted_on": "2026-01-01"}],
            }
        ],
    }
    if tax_rates is not None:
        customer["tax_rates"] = tax_rates
    return {
        "currency": currency,
        "metrics": [{"code": "calls", "event_type": "call", "aggregation": "count"}],
        "plans": [{"code": "std", "interval": "monthly", "charges": [{"model": "flat", "amount": amount}]}],
        "customers": [customer],
    }


def test_each_tax_is_its_own_line_of_the_subtotal() -> None:
    # 100.00 x 20 % = 20.00; 100.00 x 2.5 % = 2.50
    assert compute_taxes(D("100.00"), VAT_AND_LEVY, USD) == (
        TaxLine("VAT", D("20"), D("20.00")),
        TaxLine("Levy", D("2.5"), D("2.50")),
    )
    assert compute_taxes(D("100.00"), (), USD) == ()


@pytest.mark.parametrize(
    ("subtotal", "rate", "currency", "amount"),
    [
        ("0.05", "50", USD, "0.03"),  # 0.025: a tie, half-up
        ("-0.05", "50", USD, "-0.03"),  # a tie of a negative subtotal: away from zero
        ("0.01", "50", USD, "0.01"),  # 0.005
        ("0.01", "49.9", USD, "0.00"),  # 0.00499
        ("1005", "10", JPY, "101"),  # 100.5 yen
        ("1.005", "10", KWD, "0.101"),  # 0.1005 dinar
        ("19.99", "8.875", USD, "1.77"),  # 1.7741...
    ],
)
def test_each_tax_is_rounded_once_half_up_to_minor_units(
    subtotal: str, rate: str, currency: Currency, amount: str
) -> None:
    (tax,) = compute_taxes(D(subtotal), [("T", D(rate))], currency)
    assert tax.amount == D(amount)
    assert str(tax.amount) == amount  # exactly the currency's digits


def test_taxes_are_rounded_each_on_its_own_not_on_their_sum() -> None:
    # 0.10 x 5 % = 0.005 -> 0.01, twice: 0.02 (5 % + 5 % = 10 % of 0.10 would be 0.01)
    taxes = compute_taxes(D("0.10"), [("A", D("5")), ("B", D("5"))], USD)
    assert tax_total(taxes) == D("0.02")


def test_an_invoice_is_taxed_and_credits_burn_the_taxed_total() -> None:
    catalog = parse_catalog(
        _catalog(tax_rates=[{"name": "VAT", "rate": "20"}, {"name": "Levy", "rate": "2.5"}])
    )
    schedule = Schedule.of(catalog, "acme")
    draft = draft_invoice(catalog, schedule, 0, {}, {}, {})
    assert draft is not None
    # subtotal 100.00; VAT 20.00, levy 2.50: taxed 122.50; the 50.00 credit burns 50.00 of it
    assert draft.subtotal == D("100.00")
    assert [(t.name, t.amount) for t in draft.taxes] == [("VAT", D("20.00")), ("Levy", D("2.50"))]
    assert draft.credits_applied == D("50.00")
    assert draft.total == D("72.50")
    assert draft.as_invoice().taxes == draft.taxes


def test_credits_never_take_the_taxed_total_below_zero() -> None:
    catalog = parse_catalog(_catalog(tax_rates=[{"name": "VAT", "rate": "20"}], amount="30.00"))
    draft = draft_invoice(catalog, Schedule.of(catalog, "acme"), 0, {}, {}, {})
    assert draft is not None
    # 30.00 + VAT 6.00 = 36.00; the credit gives 36.00 of its 50.00
    assert (draft.credits_applied, draft.total) == (D("36.00"), D("0.00"))


@pytest.mark.parametrize(("currency", "amount", "tax"), [("JPY", "1005", "101"), ("KWD", "1.005", "0.101")])
def test_taxes_in_currencies_of_other_digits(currency: str, amount: str, tax: str) -> None:
    catalog = parse_catalog(_catalog(currency, [{"name": "GST", "rate": "10"}], amount))
    draft = draft_invoice(catalog, Schedule.of(catalog, "acme"), 0, {}, {}, {})
    assert draft is not None
    assert [t.amount for t in draft.taxes] == [D(tax)]


def test_the_fingerprint_changes_with_the_tax_rates() -> None:
    fingerprints = set()
    for rates in ([], [{"name": "VAT", "rate": "20"}], [{"name": "VAT", "rate": "21"}]):
        catalog = parse_catalog(_catalog(tax_rates=rates))
        draft = draft_invoice(catalog, Schedule.of(catalog, "acme"), 0, {}, {}, {})
        assert draft is not None
        fingerprints.add(draft.fingerprint)
    assert len(fingerprints) == 3


def test_a_quote_is_taxed_at_the_rates_given() -> None:
    catalog = parse_catalog(_catalog())
    result = quote(catalog, "std", {}, VAT_AND_LEVY)
    assert (result.subtotal, tax_total(result.taxes), result.total) == (D("100.00"), D("22.50"), D("122.50"))
    assert quote(catalog, "std", {}).total == D("100.00")


@pytest.mark.parametrize(
    ("rates", "path", "value"),
    [
        ([{"name": "VAT", "rate": "101"}], "customers[0].tax_rates[0].rate", "101"),
        ([{"name": "VAT", "rate": "-1"}], "customers[0].tax_rates[0].rate", "-1"),
        ([{"name": "VAT", "rate": "abc"}], "customers[0].tax_rates[0].rate", "'abc'"),
        ([{"name": "", "rate": "5"}], "customers[0].tax_rates[0].name", "''"),
        (
            [{"name": "VAT", "rate": "5"}, {"name": "VAT", "rate": "6"}],
            "customers[0].tax_rates[1].name",
            "'VAT'",
        ),
        ([{"name": "VAT"}], "customers[0].tax_rates[0].rate", "is required"),
    ],
)
def test_a_bad_tax_rate_is_refused_naming_its_path_and_value(rates: object, path: str, value: str) -> None:
    with pytest.raises(CatalogError) as refused:
        parse_catalog(_catalog(tax_rates=rates), "catalog.yaml")
    (message,) = refused.value.problems
    assert message.startswith(f"catalog.yaml: {path}: "), message
    assert value in message, message


amounts = st.decimals(min_value=-10_000, max_value=100_000, places=2)
rates = st.lists(st.decimals(min_value=0, max_value=100, places=3), max_size=3)


@given(amounts, rates, st.decimals(min_value=0, max_value=200_000, places=2))
def test_total_is_subtotal_plus_taxes_less_credits_never_negative(
    subtotal: Decimal, percents: list[Decimal], credit: Decimal
) -> None:
    taxes = compute_taxes(subtotal, [(f"T{i}", p) for i, p in enumerate(percents)], USD)
    taxed = subtotal + tax_total(taxes)
    grant = CreditGrant("g", credit, date(2026, 1, 1), None)
    credits = apply_credits(taxed, [grant], {}, date(2026, 1, 1))
    applied = sum((amount for _, amount in credits), D(0))
    total = taxed - applied
    assert all(at_minor_units(t.amount, USD) for t in taxes)
    assert at_minor_units(applied, USD) and at_minor_units(total, USD)
    assert total >= 0 or applied == 0  # credits never take a total below zero
    assert applied <= max(taxed, D(0))
    for tax, percent in zip(taxes, percents, strict=True):
        assert abs(tax.amount - subtotal * percent / 100) <= D("0.005")  # one rounding, at most half a cent
