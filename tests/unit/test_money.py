"""Money: ISO 4217 minor units, the one half-up rounding rule, exact proration, no floats, and
formatting that refuses what is not already rounded."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest

from billing.core.errors import BillingError, MoneyError
from billing.core.money import (
    EXACT,
    Currency,
    display_amount,
    format_amount,
    plain,
    require_minor_units,
    round_money,
    round_ratio,
)

USD = Currency.of("USD")
JPY = Currency.of("JPY")
KWD = Currency.of("KWD")
EUR = Currency.of("EUR")


# -- currencies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "digits", "quantum"),
    [("USD", 2, Decimal("0.01")), ("JPY", 0, Decimal("1")), ("KWD", 3, Decimal("0.001"))],
)
def test_minor_units_come_from_iso_4217(code: str, digits: int, quantum: Decimal) -> None:
    currency = Currency.of(code)
    assert currency.code == code
    assert currency.minor_units == digits
    assert currency.quantum == quantum
    assert str(currency) == code


def test_currency_code_is_case_insensitive_and_compares_by_code() -> None:
    assert Currency.of("usd") == USD
    assert Currency.of("usd").code == "USD"
    assert Currency.of("jpy") != USD


@pytest.mark.parametrize("code", ["XYZ", "US", "USDX", "", "US Dollar", " USD", "840"])
def test_unknown_currency_is_refused(code: str) -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Currency.of(code)


def test_currency_without_minor_unit_is_refused() -> None:
    # Gold (XAU) is in ISO 4217 but has no minor unit: an amount cannot be rounded in it.
    with pytest.raises(MoneyError, match="no minor unit"):
        Currency.of("XAU")


@pytest.mark.parametrize("code", [None, 840])
def test_non_string_currency_is_refused(code: object) -> None:
    with pytest.raises(MoneyError):
        Currency.of(code)  # type: ignore[arg-type]


def test_money_error_is_a_billing_error() -> None:
    # The CLI and the API report BillingErrors to the user; MoneyError must be one of them.
    assert issubclass(MoneyError, BillingError)


# -- rounding: half-up, away from zero on a tie ----------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "usd", "jpy", "kwd"),
    [
        ("2.345", "2.35", "2", "2.345"),
        ("-2.345", "-2.35", "-2", "-2.345"),
        ("2.3449999", "2.34", "2", "2.345"),  # rounded once: never 2.3449999 -> 2.345 -> 2.35
        ("0.005", "0.01", "0", "0.005"),
        ("-0.005", "-0.01", "-0", "-0.005"),
        ("0.0049", "0.00", "0", "0.005"),
        ("2.5", "2.50", "3", "2.500"),  # JPY tie: half-up, not banker's (which gives 2)
        ("-2.5", "-2.50", "-3", "-2.500"),  # negative tie goes away from zero
        ("3.5", "3.50", "4", "3.500"),
        ("1.0005", "1.00", "1", "1.001"),  # KWD tie on the third decimal
        ("-1.0005", "-1.00", "-1", "-1.001"),
        ("7", "7.00", "7", "7.000"),
    ],
)
def test_round_money_is_half_up_to_minor_units(amount: str, usd: str, jpy: str, kwd: str) -> None:
    value = Decimal(amount)
    for currency, expected in ((USD, usd), (JPY, jpy), (KWD, kwd)):
        rounded = round_money(value, currency)
        assert rounded == Decimal(expected), (currency, amount)
        # and it carries exactly the currency's digits
        assert rounded.as_tuple().exponent == -currency.minor_units


def test_round_money_keeps_large_amounts_exact() -> None:
    big = Decimal("123456789012345678901234.565")
    assert round_money(big, USD) == Decimal("123456789012345678901234.57")


# -- round_ratio: amount x numerator / denominator, exact, then rounded once -----------------------


@pytest.mark.parametrize(
    ("amount", "numerator", "denominator", "currency", "expected"),
    [
        # 30.00 x 17/31 = 16.4516129... -> 16.45
        ("30.00", 17, 31, USD, "16.45"),
        # 100 x 31/31 = 100: a full period is the amount itself
        ("100.00", 31, 31, USD, "100.00"),
        # 100 x 0/31 = 0
        ("100.00", 0, 31, USD, "0.00"),
        # 1 x 1/8 = 0.125 exactly: a true tie, half-up -> 0.13 (a float path gives 0.12 or 0.13)
        ("1", 1, 8, USD, "0.13"),
        ("-1", 1, 8, USD, "-0.13"),  # negative tie away from zero
        # 0.01 x 1/2 = 0.005 -> 0.01 ; -0.005 -> -0.01
        ("0.01", 1, 2, USD, "0.01"),
        ("-0.01", 1, 2, USD, "-0.01"),
        # 10 x 1/3 = 3.333... -> JPY 3, KWD 3.333
        ("10", 1, 3, JPY, "3"),
        ("10", 1, 3, KWD, "3.333"),
        # 5 x 1/2 = 2.5 -> JPY 3 (half-up), KWD 2.500
        ("5", 1, 2, JPY, "3"),
        ("5", 1, 2, KWD, "2.500"),
        # 20 x 2/3 = 13.3333... -> 13.33 ; 20 x 1/6 = 3.3333 -> 3.33
        ("20", 2, 3, USD, "13.33"),
        # 0.015 x 1/1 with 3 decimals: a sub-cent amount rounds half-up once
        ("0.015", 1, 1, USD, "0.02"),
    ],
)
def test_round_ratio_is_exact_then_half_up(
    amount: str, numerator: int, denominator: int, currency: Currency, expected: str
) -> None:
    result = round_ratio(Decimal(amount), numerator, denominator, currency)
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == -currency.minor_units


def test_round_ratio_does_not_round_twice() -> None:
    # 0.0149999...9 (many nines) x 1/1 must give 0.01; a two-step rounding (to 3 places, then
    # to 2) would give 0.015 -> 0.02.
    amount = Decimal("0.0149999999999")
    assert round_ratio(amount, 1, 1, USD) == Decimal("0.01")
    # 100.005 x 29/31 = 93.5530645...: no intermediate quantization of 100.005 to 100.01
    # (which would give 100.01 x 29/31 = 93.5577... -> 93.56)
    assert round_ratio(Decimal("100.005"), 29, 31, USD) == Decimal("93.55")


def test_round_ratio_prorations_of_a_month_sum_exactly_when_not_rounded() -> None:
    # 30.00 over 31 days split 12 + 19: 11.6129... -> 11.61 and 18.3870... -> 18.39; sum 30.00
    left = round_ratio(Decimal("30.00"), 12, 31, USD)
    right = round_ratio(Decimal("30.00"), 19, 31, USD)
    assert (left, right) == (Decimal("11.61"), Decimal("18.39"))
    assert left + right == Decimal("30.00")


# -- format_amount: exactly the currency's digits --------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("2", JPY, "2"),
        ("2", USD, "2.00"),
        ("2", KWD, "2.000"),
        ("2.50", USD, "2.50"),
        ("2.500", USD, "2.50"),  # trailing zeros are not digits
        ("1234567.89", USD, "1234567.89"),
        ("1E+3", USD, "1000.00"),  # never an exponent
        ("0.1", KWD, "0.100"),
        ("-7.5", USD, "-7.50"),
        ("-0.00", USD, "0.00"),  # no "-0.00"
        ("-0", JPY, "0"),
        ("0", KWD, "0.000"),
    ],
)
def test_format_amount_writes_the_currency_digits(amount: str, currency: Currency, text: str) -> None:
    assert format_amount(Decimal(amount), currency) == text


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("6.665", USD),  # a 10.00 invoice less a credit of 3.335: never shown as 6.67
        ("2.5", JPY),
        ("1234567.891", USD),
        ("-0.001", USD),
        ("0.0001", KWD),
    ],
)
def test_format_amount_refuses_an_amount_that_is_not_rounded(amount: str, currency: Currency) -> None:
    with pytest.raises(
        MoneyError, match=f"not at {currency.code}'s {currency.minor_units} minor-unit digits"
    ):
        format_amount(Decimal(amount), currency)
    with pytest.raises(MoneyError):
        display_amount(Decimal(amount), currency)


def test_display_amount_shows_unit_prices_exactly_and_amounts_at_minor_units() -> None:
    assert display_amount(Decimal("7"), USD) == "$7.00"
    assert display_amount(Decimal("-2.50"), USD) == "-$2.50"
    assert display_amount(Decimal("0.005"), USD, exact=True) == "$0.005"
    assert display_amount(Decimal("0.5"), USD, exact=True) == "$0.50"
    assert display_amount(Decimal("12"), KWD) == "12.000 KWD"


@pytest.mark.parametrize(
    ("amount", "currency", "ok"),
    [
        ("6.67", USD, True),
        ("6.670", USD, True),
        ("6.665", USD, False),
        ("3", JPY, True),
        ("3.0", JPY, True),
        ("3.1", JPY, False),
        ("1.005", KWD, True),
        ("1.0005", KWD, False),
    ],
)
def test_require_minor_units_returns_the_amount_or_names_it(
    amount: str, currency: Currency, ok: bool
) -> None:
    value = Decimal(amount)
    if ok:
        assert require_minor_units(value, currency, "total") is value
    else:
        with pytest.raises(MoneyError, match=f"total {amount} is not at"):
            require_minor_units(value, currency, "total")


@pytest.mark.parametrize(
    ("value", "text"), [("12.50", "12.5"), ("100", "100"), ("1E+2", "100"), ("0.000001", "0.000001")]
)
def test_plain_has_no_exponent_and_no_trailing_zeros(value: str, text: str) -> None:
    assert plain(Decimal(value)) == text


# -- the exact context -----------------------------------------------------------------------------


def test_exact_arithmetic_raises_instead_of_rounding() -> None:
    from decimal import Inexact

    with localcontext(EXACT):
        assert Decimal("0.000000000001") * Decimal("1000000000000") == Decimal(1)
        with pytest.raises(Inexact):
            Decimal(1) / Decimal(3)
