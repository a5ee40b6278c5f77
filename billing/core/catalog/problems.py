"""A bad catalog's problems, each with its path and value, and the checks across objects.

`billing.core.catalog` validates field by field with pydantic; this module turns pydantic's and
PyYAML's errors into `path: message (got value)` lines, and checks what spans objects:
references, duplicates, contract sequences, per-customer overrides.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from pydantic import ValidationError

from billing.core.catalog.yaml_text import YAMLError
from billing.core.money import Currency, at_minor_units, plain
from billing.core.pricing import CHARGE_MODELS, ChargeModel, charge_adapter
from billing.core.pricing.base import LocatedValueError

if TYPE_CHECKING:
    from billing.core.catalog import Catalog, Metric

Problem = tuple[str, str, object]  # (path, message, offending value or NO_VALUE)
NO_VALUE = object()


def yaml_problem(error: YAMLError) -> str:
    """PyYAML's problem and where it is, on one line: "expected ',' (line 3, column 1)"."""
    problem = getattr(error, "problem", None)
    if problem is None:
        return str(error).replace("\n", " ")
    parts = []
    for text, mark in ((problem, error.problem_mark), (error.context, error.context_mark)):  # type: ignore[attr-defined]
        if text:
            parts.append(f"{text} (line {mark.line + 1}, column {mark.column + 1})" if mark else text)
    return "; ".join(parts)


def format_problem(source: str, path: str, message: str, value: object) -> str:
    where = f"{source}: {path}: " if path else f"{source}: "
    if value is NO_VALUE or isinstance(value, dict | list | tuple):
        return f"{where}{message}"
    if isinstance(value, Decimal):
        shown = plain(value)
    elif isinstance(value, date):
        shown = value.isoformat()
    else:
        shown = repr(value)
    return f"{where}{message} (got {shown})"


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in CHARGE_MODELS and (index == 0 or isinstance(loc[index - 1], int)):
            continue  # the discriminated union's tag, not a key in the file
        elif part.startswith("function-"):
            continue
        else:
            text += f".{part}" if text else part
    return text


def pydantic_problems(error: ValidationError, prefix: tuple[int | str, ...] = ()) -> list[Problem]:
    problems = []
    items = error.errors(include_url=False)
    failing = {_path(prefix + tuple(item["loc"])) for item in items}
    for item in items:
        path = _path(prefix + tuple(item["loc"]))
        if item["type"] == "too_short" and any(f.startswith(path + "[") for f in failing):
            continue  # pydantic's echo of an invalid item inside this list, reported already
        message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if item["type"] == "missing":
            message, value = "is required", NO_VALUE
        elif item["type"] == "extra_forbidden":
            message, value = "is not a known setting (check the spelling)", NO_VALUE
        else:
            value = item.get("input", NO_VALUE)
        error_object = item.get("ctx", {}).get("error")
        if isinstance(error_object, LocatedValueError):  # points inside the value it checked
            path += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error_object.where)
            message, value = str(error_object), error_object.value
        problems.append((path, message, value))
    return problems


def cross_check(catalog: Catalog) -> list[Problem]:
    """Checks that span objects: references, duplicates, contract sequences."""
    problems: list[Problem] = []
    problems += _duplicates("metrics", [m.code for m in catalog.metrics], "code")
    problems += _duplicates("plans", [p.code for p in catalog.plans], "code")
    problems += _duplicates("customers", [c.id for c in catalog.customers], "id")
    metrics = catalog.metrics_by_code
    for p, plan in enumerate(catalog.plans):
        for c, charge in enumerate(plan.charges):
            problems += _check_charge_metric(f"plans[{p}].charges[{c}]", charge, metrics)
    problems += amounts_beyond_minor_units(catalog)
    for i, customer in enumerate(catalog.customers):
        previous_end: date | None = None
        for j, contract in enumerate(customer.contracts):
            where = f"customers[{i}].contracts[{j}]"
            if contract.plan not in catalog.plans_by_code:
                known = ", ".join(catalog.plans_by_code)
                problems.append((f"{where}.plan", f"unknown plan (known: {known})", contract.plan))
                continue
            if j > 0 and (previous_end is None or contract.starts_on <= previous_end):
                ends = "has no end" if previous_end is None else f"ends on {previous_end}"
                problems.append(
                    (
                        f"{where}.starts_on",
                        f"overlaps the contract before it, which {ends}; contracts must be in order"
                        " and a plan change starts the day after the previous contract ends",
                        contract.starts_on,
                    )
                )
            previous_end = contract.last_day
            charges = catalog.plans_by_code[contract.plan].charges
            for index in contract.overrides:
                if not 0 <= index < len(charges):
                    problems.append(
                        (
                            f"{where}.overrides",
                            f"no charge at index {index}: plan {contract.plan!r} has {len(charges)}",
                            index,
                        )
                    )
    return problems


def _check_charge_metric(where: str, charge: ChargeModel, metrics: dict[str, Metric]) -> list[Problem]:
    code = charge.metric_code
    if code is None:
        return []
    if code not in metrics:
        return [(f"{where}.metric", f"unknown metric (known: {', '.join(metrics)})", code)]
    if charge.model == "percentage" and metrics[code].aggregation != "sum":
        return [
            (
                f"{where}.metric",
                f"a percentage charge needs a metric aggregated with 'sum', "
                f"{code!r} uses {metrics[code].aggregation!r}",
                code,
            )
        ]
    return []


def amounts_beyond_minor_units(catalog: Catalog) -> list[Problem]:
    """Amounts billed as they are written must fit the currency's minor units: a flat charge's
    `amount` and a `minimum_commitment` (each its own line) and a credit's `amount` (burned
    against totals). Prices summed into a line before its one rounding (unit prices, package
    prices, tier fees, per-transaction fees) may carry up to 12 decimals."""
    currency = catalog.currency
    problems: list[Problem] = []
    for p, plan in enumerate(catalog.plans):
        minimum = plan.minimum_commitment
        if minimum is not None and not at_minor_units(minimum, currency):
            problems.append((f"plans[{p}].minimum_commitment", _too_many_digits(currency), minimum))
        for c, charge in enumerate(plan.charges):
            problems += _charge_amount_beyond_minor_units(f"plans[{p}].charges[{c}]", charge, currency)
    for i, customer in enumerate(catalog.customers):
        for j, contract in enumerate(customer.contracts):
            for k, credit in enumerate(contract.credits):
                if not at_minor_units(credit.amount, currency):
                    where = f"customers[{i}].contracts[{j}].credits[{k}].amount"
                    problems.append((where, _too_many_digits(currency), credit.amount))
    return problems


def _charge_amount_beyond_minor_units(where: str, charge: ChargeModel, currency: Currency) -> list[Problem]:
    amount = getattr(charge, "amount", None) if charge.model == "flat" else None
    if amount is None or at_minor_units(amount, currency):
        return []
    return [(f"{where}.amount", _too_many_digits(currency), amount)]


def _too_many_digits(currency: Currency) -> str:
    digits = f"{currency.minor_units} minor-unit digit{'' if currency.minor_units == 1 else 's'}"
    return f"has more decimals than {currency.code} bills ({digits})"


def _duplicates(section: str, keys: list[str], name: str) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, key in enumerate(keys):
        if key in seen:
            problems.append((f"{section}[{index}].{name}", f"duplicate {name}", key))
        seen.add(key)
    return problems


def resolve_overrides(
    catalog: Catalog,
) -> tuple[dict[tuple[str, int], tuple[ChargeModel, ...]], list[Problem]]:
    resolved: dict[tuple[str, int], tuple[ChargeModel, ...]] = {}
    problems: list[Problem] = []
    metrics = catalog.metrics_by_code
    for i, customer in enumerate(catalog.customers):
        for j, contract in enumerate(customer.contracts):
            charges = list(catalog.plan(contract.plan).charges)
            for index, override in sorted(contract.overrides.items()):
                where = f"customers[{i}].contracts[{j}].overrides.{index}"
                merged = {**charges[index].model_dump(exclude_unset=True), **override}
                try:
                    charge = charge_adapter.validate_python(merged)
                except ValidationError as error:
                    problems += [
                        (f"{where}.{path}" if path else where, message, value)
                        for path, message, value in pydantic_problems(error)
                    ]
                    continue
                problems += _check_charge_metric(where, charge, metrics)
                problems += _charge_amount_beyond_minor_units(where, charge, catalog.currency)
                charges[index] = charge
            resolved[(customer.id, j)] = tuple(charges)
    return resolved, problems
