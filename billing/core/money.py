"""Money: exact decimals, ISO 4217 currencies and the one rounding rule.

Amounts are `Decimal` from the edge inward. Floats are refused everywhere: a float has already
lost the cents before we see it. Intermediate results (quantity x unit price, tier sums) are
computed exactly in `EXACT`, a context that raises rather than round; each invoice line is then
rounded once, half-up, to the currency's minor units (`round_money`). Proration divides, so it is
done on exact fractions and rounded once too (`round_ratio`). Nothing after that rounds: what is
shown, stored or burned as credit must already be at minor units (`require_minor_units`), so a
document can only show what was billed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_UP,
    Clamped,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)
from functools import cache

from billing.core.errors import MoneyError

# Catalog prices have at most 15 + 12 digits and metered quantities at most 30 + 30 (both
# checked where they come in), so exact products and sums of millions of them fit in 200
# digits; any result that would still need rounding raises `Inexact` instead.
EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_UP,
    traps=[Inexact, InvalidOperation, DivisionByZero, Overflow, Clamped],
)
_ROUNDING = Context(prec=200, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and its number of minor-unit digits (USD 2, JPY 0, KWD 3)."""

    code: str
    minor_units: int
    quantum: Decimal = field(compare=False, repr=False)

    @staticmethod
    def of(code: str) -> Currency:
        """The currency for an ISO 4217 code; `MoneyError` for an unknown one."""
        return _currency(code.upper() if isinstance(code, str) else code)

    @property
    def symbol(self) -> str:
        """The symbol an English reader expects ("$", "€", "¥"), else the code."""
        return _symbol(self.code)

    def __str__(self) -> str:
        return self.code


@cache
def _currency(code: str) -> Currency:
    import iso4217

    try:
        iso = iso4217.Currency(code)
    except (ValueError, TypeError):
        raise MoneyError(f"unknown currency {code!r}: expected an ISO 4217 code such as 'USD'") from None
    if iso.exponent is None:
        raise MoneyError(f"currency {code!r} has no minor unit in ISO 4217 and cannot be billed")
    return Currency(code, iso.exponent, Decimal(1).scaleb(-iso.exponent))


@cache
def _symbol(code: str) -> str:
    from babel.numbers import get_currency_symbol

    return str(get_currency_symbol(code, locale="en_US"))


def round_money(amount: Decimal, currency: Currency) -> Decimal:
    """Round half-up (away from zero on a tie) to the currency's minor units."""
    return amount.quantize(currency.quantum, context=_ROUNDING)


def round_ratio(amount: Decimal, numerator: int, denominator: int, currency: Currency) -> Decimal:
    """`amount x numerator / denominator`, computed exactly and rounded once, half-up."""
    if not isinstance(amount, Decimal):
        raise MoneyError(f"amount must be a Decimal, got {amount!r}")
    top, bottom = amount.as_integer_ratio()  # exact: a Decimal is an integer over a power of ten
    top *= numerator * 10**currency.minor_units
    bottom *= denominator
    units = (2 * abs(top) + bottom) // (2 * bottom)  # half-up on the magnitude: ties away from zero
    if (top < 0) != (bottom < 0):
        units = -units
    return Decimal(units).scaleb(-currency.minor_units, context=_ROUNDING)


def at_minor_units(amount: Decimal, currency: Currency) -> bool:
    """Whether an amount needs no rounding in its currency (6.67 USD does, 6.665 does not)."""
    return amount.is_finite() and decimal_places(amount) <= currency.minor_units


def require_minor_units(amount: Decimal, currency: Currency, what: str = "amount") -> Decimal:
    """The amount itself, or `MoneyError` when it carries more digits than the currency's minor
    units: an amount shown, stored or burned is billed as it is, never rounded on the way."""
    if not isinstance(amount, Decimal) or not at_minor_units(amount, currency):
        shown = f"{amount:f}" if isinstance(amount, Decimal) else repr(amount)
        raise MoneyError(
            f"{what} {shown} is not at {currency.code}'s {currency.minor_units} minor-unit digits: "
            "amounts are rounded once, when their line is priced"
        )
    return amount


def format_amount(amount: Decimal, currency: Currency) -> str:
    """An amount as a string with exactly the currency's minor-unit digits ("2.00", "2", "2.000").

    Refuses (`MoneyError`) an amount that is not already at minor units: what a document shows
    is what was billed, so it never rounds."""
    text = f"{require_minor_units(amount, currency).quantize(currency.quantum, context=_ROUNDING):f}"
    return text.removeprefix("-") if amount == 0 else text


def plain(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros ("12.5", "100", "0.000001")."""
    if not value:  # zero, of either sign and any exponent (cheaper than comparing with 0)
        return "0"
    return f"{value.normalize(EXACT):f}"


def decimal_places(value: Decimal) -> int:
    """How many digits after the decimal point a value really has (12.500 has 1)."""
    _, digits, exponent = value.as_tuple()
    if not value or not isinstance(exponent, int):
        return 0
    trailing_zeros = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing_zeros))


def display_amount(amount: Decimal, currency: Currency, *, exact: bool = False) -> str:
    """A human amount with the symbol, "$7.00"; `exact` is for unit prices, which are not
    amounts: they keep their sub-minor digits ("$0.005"). Without `exact`, an amount that is
    not at minor units is refused, as in `format_amount`."""
    magnitude = amount.copy_abs()
    if exact and not at_minor_units(amount, currency):
        text = plain(magnitude)
    else:
        text = format_amount(magnitude, currency)
    sign = "-" if amount < 0 else ""
    symbol = currency.symbol
    if symbol == currency.code:
        return f"{sign}{text} {symbol}"
    return f"{sign}{symbol}{text}"
