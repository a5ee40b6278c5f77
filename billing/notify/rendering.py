"""Emails rendered with Jinja2: a subject, a plain-text part and an HTML part per kind.

Templates live in `billing/notify/templates` as `<kind>.subject.txt`, `<kind>.txt` and
`<kind>.html` (the HTML ones extend `_layout.html`); HTML is autoescaped and a missing variable
is an error, never a blank. Contexts hold dates as ISO text and amounts as plain decimal text at
the currency's minor units (they are stored in the send ledger and sent as webhook data);
templates print them for people with filters:

- `day`: "1 Oct 2026"; `days`: a period's local days, first and last inclusive, from a
  document's period (`period | days`) or from two days (`first | days(last)`):
  "1 Oct 2026 – 31 Oct 2026";
- `money(currency)`: an amount with its currency, exactly as stored ("$500.00", "¥500",
  "500.000 KWD"), never through a float;
- `plural(unit)`: a count and its unit ("1 day", "3 days").

`console_link` is not part of a stored context: the email channel passes it as it sends
(`billing.services.console_links`), and `_console_link.txt` / `_console_link.html` show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Undefined, select_autoescape

from billing.core.console_links import ConsoleLink
from billing.core.errors import BillingError, MoneyError
from billing.core.local_days import format_day, format_days
from billing.core.money import Currency, display_amount


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def period_days(period: dict[str, Any] | str, last: str | None = None) -> str:
    """A document's period (SPEC §8, with `first_day` and `last_day`), or a first and a last
    day, as a person reads it."""
    if isinstance(period, dict):
        return format_days(period["first_day"], period["last_day"])
    if last is None:
        raise BillingError(f"days: a period's last day is missing after {period!r}")
    return format_days(period, last)


def money(amount: str | Decimal, currency: str) -> str:
    """An amount from a context (decimal text, "500.00") with its currency's symbol ("$500.00"),
    digits kept as they are: a display never rounds. A notification queued before amounts were
    plain text holds its display form already ("$30.00"): shown as it is."""
    for given in (amount, currency):
        if isinstance(given, Undefined):
            str(given)  # StrictUndefined raises, naming the missing variable
    if isinstance(amount, bool) or not isinstance(amount, str | Decimal | int):
        raise MoneyError(f"money: {amount!r} is not an amount (expected decimal text)")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return str(amount)
    return display_amount(value, Currency.of(currency), exact=True)


def plural(count: int, unit: str) -> str:
    """`1 day`, `3 days`."""
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("billing.notify", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["day"] = format_day
    env.filters["days"] = period_days
    env.filters["money"] = money
    env.filters["plural"] = plural
    return env


def render_email(
    kind: str, context: dict[str, Any], console_link: ConsoleLink | None = None
) -> RenderedEmail:
    """The email of one notification; with a `console_link`, both parts end by offering it
    (without, the email is exactly what it was before console links existed)."""
    env = environment()
    context = {**context, "console_link": console_link}
    subject = env.get_template(f"{kind}.subject.txt").render(context).strip()
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{kind}.txt").render(context),
        html=env.get_template(f"{kind}.html").render(context),
    )
