"""`billing quote`: price one whole period of a plan, with the code invoices use, in well under a second.

Imports only the pure core: no database, no Prefect, no Great Expectations.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from billing.core.catalog import Catalog
from billing.core.errors import InvalidUsage
from billing.core.events import quantity_problem
from billing.core.money import decimal_places, format_amount, plain
from billing.core.pricing.base import MeteredUsage
from billing.core.rating import Quote, quote
from billing.sources.catalog_file import load_catalog
from billing.views.tables import text_table

T = TypeVar("T")


def parse_usage(catalog: Catalog, items: Sequence[str]) -> dict[str, MeteredUsage]:
    """`METRIC=QTY` and `METRIC.events=N` pairs into usage per metric."""
    quantities: dict[str, Decimal] = {}
    events: dict[str, int] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InvalidUsage(f"--usage {item!r}: expected METRIC=QUANTITY or METRIC.events=COUNT")
        code, _, part = name.partition(".")
        metric = catalog.metric(code)
        if part == "events":
            if not (value.isascii() and value.isdigit()):
                raise InvalidUsage(f"--usage {item!r}: the number of events must be a whole number >= 0")
            _once(events, code, f"{code}.events", int(value))
        elif part:
            raise InvalidUsage(f"--usage {item!r}: unknown suffix {part!r} (only METRIC.events)")
        else:
            _once(quantities, code, code, _quantity(item, value, _COUNTED.get(metric.aggregation)))
    return {
        code: MeteredUsage(quantities.get(code, Decimal(0)), events.get(code, 0))
        for code in dict.fromkeys([*quantities, *events])
    }


_COUNTED = {"count": "events", "unique_count": "distinct values"}
"""Aggregations whose quantity is a number of things: a whole number, as metering makes it."""


def _quantity(item: str, value: str, counted: str | None) -> Decimal:
    try:
        quantity = Decimal(value)
    except InvalidOperation:
        raise InvalidUsage(f"--usage {item!r}: {value!r} is not a decimal number") from None
    if not quantity.is_finite() or quantity < 0:
        raise InvalidUsage(f"--usage {item!r}: the quantity must be a finite number >= 0")
    problem = quantity_problem(quantity)
    if problem:
        raise InvalidUsage(f"--usage {item!r}: the quantity {problem}")
    if counted and quantity != quantity.to_integral_value():
        raise InvalidUsage(
            f"--usage {item!r}: the metric counts {counted}, so the quantity must be a whole number"
        )
    return quantity


def _once(target: dict[str, T], code: str, label: str, value: T) -> None:
    if code in target:
        raise InvalidUsage(f"--usage {label} is given twice")
    target[code] = value


def parse_tax_rates(items: Sequence[str]) -> list[tuple[str, Decimal]]:
    """`NAME=PERCENT` pairs ("VAT=20") into `(name, percent)`, as a customer's `tax_rates`."""
    rates: dict[str, Decimal] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise InvalidUsage(f"--tax-rate {item!r}: expected NAME=PERCENT, such as VAT=20")
        try:
            rate = Decimal(value)
        except InvalidOperation:
            raise InvalidUsage(f"--tax-rate {item!r}: {value!r} is not a decimal number") from None
        if not rate.is_finite() or not 0 <= rate <= 100 or decimal_places(rate) > 12:
            raise InvalidUsage(f"--tax-rate {item!r}: the rate must be a percentage from 0 to 100")
        if name in rates:
            raise InvalidUsage(f"--tax-rate {name} is given twice")
        rates[name] = rate
    return list(rates.items())


def render_quote(result: Quote, plan_label: str) -> str:
    currency = result.currency
    rows = [["description", "quantity", "amount"]]
    rows += [
        [line.description, plain(line.quantity), format_amount(line.amount, currency)]
        for line in result.lines
    ]
    rows.append(["subtotal", "", format_amount(result.subtotal, currency)])
    rows += [
        [f"{tax.name} {plain(tax.rate)}%", "", format_amount(tax.amount, currency)] for tax in result.taxes
    ]
    rows.append(["total", "", f"{format_amount(result.total, currency)} {currency.code}"])
    return f"{plan_label}: one whole period\n" + text_table(rows, right=(1, 2))


def run_quote(
    catalog_path: str,
    plan_code: str,
    usage_items: Sequence[str],
    as_json: bool,
    tax_items: Sequence[str] = (),
) -> str:
    from billing.views.documents import quote_document

    rates = parse_tax_rates(tax_items)
    catalog = load_catalog(catalog_path)
    plan = catalog.plan(plan_code)
    usage = parse_usage(catalog, usage_items)
    charged = {charge.metric_code for charge in plan.charges}
    unpriced = [code for code in usage if code not in charged]
    if unpriced:  # priced at nothing, as an invoice of this plan would: said, not silent
        print(
            f"note: plan {plan.code!r} charges nothing for {', '.join(map(repr, unpriced))}: "
            "that usage is left out of the quote",
            file=sys.stderr,
        )
    result = quote(catalog, plan.code, usage, rates)
    if as_json:
        return json.dumps(quote_document(result))
    return render_quote(result, f"{plan.label} ({plan.code}, {plan.interval})")
