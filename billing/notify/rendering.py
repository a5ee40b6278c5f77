"""Emails rendered with Jinja2: a subject, a plain-text part and an HTML part per kind.

Templates live in `billing/notify/templates` as `<kind>.subject.txt`, `<kind>.txt` and
`<kind>.html`; HTML is autoescaped and a missing variable is an error, never a blank.
Contexts hold dates as ISO text (they are stored in the send ledger and sent as webhook data);
templates print them for people with two filters: `day` ("1 Oct 2026") and `days` (a period's
local days, first and last inclusive: "1 Oct 2026 – 31 Oct 2026"); amounts are plain decimal
strings at minor units, printed with `money(currency)` ("$500.00").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from billing.core.local_days import format_day, format_days
from billing.core.money import Currency, display_amount


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def period_days(period: dict[str, Any]) -> str:
    """A document's period (SPEC §8, with `first_day` and `last_day`) as a person reads it."""
    return format_days(period["first_day"], period["last_day"])


def money(amount: str, currency: str) -> str:
    """A context's amount ("500.00") as a person reads it in its currency ("$500.00"); a
    notification queued before amounts were plain strings already holds its display form."""
    try:
        value = Decimal(amount)
    except ArithmeticError:
        return amount
    return display_amount(value, Currency.of(currency))


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
    return env


def render_email(kind: str, context: dict[str, Any]) -> RenderedEmail:
    env = environment()
    subject = env.get_template(f"{kind}.subject.txt").render(context).strip()
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=env.get_template(f"{kind}.txt").render(context),
        html=env.get_template(f"{kind}.html").render(context),
    )
