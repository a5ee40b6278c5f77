"""A bad catalog's problems, each with its path and value, and the checks across objects.

`billing.core.catalog` validates field by field with pydantic (`field_errors` words its
errors); this module checks what spans objects: references, duplicates, contract sequences,
per-customer overrides. It checks every metric, plan, charge and contract that is valid on its
own, even when others are not, so one `catalog check` reports every problem it can find.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from billing.core.catalog.contract_days import trial_day_problem
from billing.core.catalog.field_errors import NO_VALUE, Problem, pydantic_problems
from billing.core.catalog.yaml_text import YAMLError
from billing.core.errors import MoneyError
from billing.core.money import Currency, at_minor_units, plain
from billing.core.pricing import ChargeModel, charge_adapter

if TYPE_CHECKING:
    from billing.core.catalog import Catalog, Contract, Metric, Plan

__all__ = [
    "NO_VALUE",
    "CatalogParts",
    "Problem",
    "cross_check",
    "format_problem",
    "pydantic_problems",
    "resolve_overrides",
    "yaml_problem",
]


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
    """`file: path: message (got value)`, always one line (control characters escaped)."""
    where = f"{source}: {_one_line(path)}: " if path else f"{source}: "
    if value is NO_VALUE or isinstance(value, dict | list | tuple):
        return f"{where}{_one_line(message)}"
    if isinstance(value, Decimal):
        shown = plain(value)
    elif isinstance(value, date):
        shown = value.isoformat()
    else:
        shown = repr(value)
    return f"{where}{_one_line(message)} (got {_one_line(shown)})"


def _one_line(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@dataclass
class CatalogParts:
    """What the checks across objects look at: every metric, charge and contract that is valid
    on its own, by its place in the file, and every code or id as written (valid item or not),
    so that a reference to an item with problems of its own is not reported again as unknown.
    A section missing or not a list has no codes (None): references into it are not checked."""

    metrics: dict[int, Metric] = field(default_factory=dict)
    plans: dict[int, Plan] = field(default_factory=dict)
    charges: dict[tuple[int, int], ChargeModel] = field(default_factory=dict)
    contracts: dict[tuple[int, int], tuple[str, Contract]] = field(default_factory=dict)
    written: dict[str, list[tuple[int, str]] | None] = field(default_factory=dict)
    spend_alerts: dict[int, tuple[Decimal, ...]] = field(default_factory=dict)  # valid lists, by customer
    currency: Currency | None = None  # None when the catalog's own currency is invalid

    @classmethod
    def of(cls, catalog: Catalog) -> CatalogParts:
        return cls(
            metrics=dict(enumerate(catalog.metrics)),
            plans=dict(enumerate(catalog.plans)),
            charges={(p, c): ch for p, plan in enumerate(catalog.plans) for c, ch in enumerate(plan.charges)},
            contracts={
                (i, j): (customer.id, contract)
                for i, customer in enumerate(catalog.customers)
                for j, contract in enumerate(customer.contracts)
            },
            written={
                "metrics": [(i, m.code) for i, m in enumerate(catalog.metrics)],
                "plans": [(i, p.code) for i, p in enumerate(catalog.plans)],
                "customers": [(i, c.id) for i, c in enumerate(catalog.customers)],
            },
            currency=catalog.currency,
            spend_alerts={i: c.spend_alerts for i, c in enumerate(catalog.customers) if c.spend_alerts},
        )

    @classmethod
    def of_data(cls, data: dict[Any, Any]) -> CatalogParts:
        """Validate each item of a catalog that failed as a whole on its own."""
        from billing.core.catalog import SPEND_ALERTS, Contract, Metric, Plan

        parts = cls(currency=_currency_of(data.get("currency")))
        for index, raw in _items(parts, data, "metrics", "code"):
            if (metric := _valid(Metric, raw)) is not None:
                parts.metrics[index] = metric
        for index, raw in _items(parts, data, "plans", "code"):
            if (plan := _valid(Plan, raw)) is not None:
                parts.plans[index] = plan
                parts.charges.update({(index, c): charge for c, charge in enumerate(plan.charges)})
                continue
            charges = raw.get("charges") if isinstance(raw, dict) else None
            for c, raw_charge in enumerate(charges if isinstance(charges, list) else []):
                if (charge := _valid(charge_adapter, raw_charge)) is not None:
                    parts.charges[(index, c)] = charge
        for index, raw in _items(parts, data, "customers", "id"):
            customer_id = raw.get("id") if isinstance(raw, dict) else None
            alerts = _valid(SPEND_ALERTS, raw.get("spend_alerts", ())) if isinstance(raw, dict) else None
            if alerts:
                parts.spend_alerts[index] = alerts
            contracts = raw.get("contracts") if isinstance(raw, dict) else None
            for j, raw_contract in enumerate(contracts if isinstance(contracts, list) else []):
                if (contract := _valid(Contract, raw_contract)) is not None:
                    parts.contracts[(index, j)] = (str(customer_id), contract)
        return parts

    def codes(self, section: str) -> list[str] | None:
        written = self.written.get(section)
        return None if written is None else list(dict.fromkeys(code for _, code in written))

    @property
    def plans_by_code(self) -> dict[str, Plan]:
        return {plan.code: plan for plan in self.plans.values()}


def _currency_of(value: object) -> Currency | None:
    if not isinstance(value, str):
        return None
    try:
        return Currency.of(value)
    except MoneyError:
        return None  # reported by the field errors


def _items(parts: CatalogParts, data: dict[Any, Any], section: str, key: str) -> list[tuple[int, Any]]:
    raw = data.get(section)
    if not isinstance(raw, list):  # missing or not a list: reported by the field errors
        parts.written[section] = None
        return []
    parts.written[section] = [
        (i, item[key])
        for i, item in enumerate(raw)
        if isinstance(item, dict) and isinstance(item.get(key), str)
    ]
    return list(enumerate(raw))


def _valid(model: Any, raw: object) -> Any:
    """`raw` validated as `model` (a pydantic model or type adapter), None if it is not valid."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(raw)
        return model.model_validate(raw)
    except ValidationError:
        return None


def cross_check(catalog: Catalog | CatalogParts) -> list[Problem]:
    """Checks that span objects: references, duplicates, contract sequences."""
    parts = catalog if isinstance(catalog, CatalogParts) else CatalogParts.of(catalog)
    problems: list[Problem] = []
    for section, name in (("metrics", "code"), ("plans", "code"), ("customers", "id")):
        problems += _duplicates(section, parts.written.get(section) or [], name)
    metrics = {m.code: m for m in parts.metrics.values()}
    metric_codes = parts.codes("metrics")
    for (p, c), charge in sorted(parts.charges.items()):
        problems += _check_charge_metric(f"plans[{p}].charges[{c}]", charge, metrics, metric_codes)
    problems += amounts_beyond_minor_units(parts)
    plan_codes = parts.codes("plans")
    plans = parts.plans_by_code
    previous: tuple[int, date | None] | None = None  # (customer index, previous contract's last day)
    for (i, j), (_, contract) in sorted(parts.contracts.items()):
        where = f"customers[{i}].contracts[{j}]"
        if plan_codes is not None and contract.plan not in plan_codes:
            known = ", ".join(plan_codes)
            problems.append((f"{where}.plan", f"unknown plan (known: {known})", contract.plan))
            continue
        if previous is not None and previous[0] == i and j > 0:
            previous_end = previous[1]
            if previous_end is None or contract.starts_on <= previous_end:
                ends = "has no end" if previous_end is None else f"ends on {previous_end}"
                problems.append(
                    (
                        f"{where}.starts_on",
                        f"overlaps the contract before it, which {ends}; contracts must be in order"
                        " and a plan change starts the day after the previous contract ends",
                        contract.starts_on,
                    )
                )
        previous = (i, contract.last_day)
        plan = plans.get(contract.plan)
        if plan is None:
            continue  # a plan with problems of its own: its charges are unknown
        trial = trial_day_problem(contract.starts_on, plan.trial_days) if j == 0 else None
        if trial is not None:
            problems.append((f"{where}.starts_on", trial, contract.starts_on))
        for index in contract.overrides:
            if not 0 <= index < len(plan.charges):
                problems.append(
                    (
                        f"{where}.overrides",
                        f"no charge at index {index}: plan {contract.plan!r} has {len(plan.charges)}",
                        index,
                    )
                )
    return problems


def amounts_beyond_minor_units(parts: CatalogParts) -> list[Problem]:
    """Amounts billed as they are written must fit the currency's minor units: a flat charge's
    `amount` and a `minimum_commitment` (each its own line) and a credit's `amount` (burned
    against totals). Prices summed into a line before its one rounding (unit prices, package
    prices, tier fees, per-transaction fees) may carry up to 12 decimals."""
    currency = parts.currency
    if currency is None:
        return []
    problems: list[Problem] = []
    for p, plan in sorted(parts.plans.items()):
        minimum = plan.minimum_commitment
        if minimum is not None and not at_minor_units(minimum, currency):
            problems.append((f"plans[{p}].minimum_commitment", _too_many_digits(currency), minimum))
    for (p, c), charge in sorted(parts.charges.items()):
        problems += _charge_amount_beyond_minor_units(f"plans[{p}].charges[{c}]", charge, currency)
    for i, alerts in sorted(parts.spend_alerts.items()):
        for k, alert in enumerate(alerts):
            if not at_minor_units(alert, currency):
                problems.append((f"customers[{i}].spend_alerts[{k}]", _too_many_digits(currency), alert))
    for (i, j), (_, contract) in sorted(parts.contracts.items()):
        for k, credit in enumerate(contract.credits):
            if not at_minor_units(credit.amount, currency):
                where = f"customers[{i}].contracts[{j}].credits[{k}].amount"
                problems.append((where, _too_many_digits(currency), credit.amount))
    return problems


def _charge_amount_beyond_minor_units(
    where: str, charge: ChargeModel, currency: Currency | None
) -> list[Problem]:
    amount = getattr(charge, "amount", None) if charge.model == "flat" else None
    if currency is None or amount is None or at_minor_units(amount, currency):
        return []
    return [(f"{where}.amount", _too_many_digits(currency), amount)]


def _too_many_digits(currency: Currency) -> str:
    digits = f"{currency.minor_units} minor-unit digit{'' if currency.minor_units == 1 else 's'}"
    return f"has more decimals than {currency.code} bills ({digits})"


def _check_charge_metric(
    where: str, charge: ChargeModel, metrics: dict[str, Metric], written: list[str] | None
) -> list[Problem]:
    code = charge.metric_code
    if code is None or written is None:
        return []
    if code not in written:
        return [(f"{where}.metric", f"unknown metric (known: {', '.join(written)})", code)]
    if charge.model == "percentage" and code in metrics and metrics[code].aggregation != "sum":
        return [
            (
                f"{where}.metric",
                f"a percentage charge needs a metric aggregated with 'sum', "
                f"{code!r} uses {metrics[code].aggregation!r}",
                code,
            )
        ]
    return []


def _duplicates(section: str, keys: list[tuple[int, str]], name: str) -> list[Problem]:
    seen: set[str] = set()
    problems: list[Problem] = []
    for index, key in keys:
        if key in seen:
            problems.append((f"{section}[{index}].{name}", f"duplicate {name}", key))
        seen.add(key)
    return problems


def resolve_overrides(
    catalog: Catalog | CatalogParts,
) -> tuple[dict[tuple[str, int], tuple[ChargeModel, ...]], list[Problem]]:
    """Each contract's charges: its plan's, with the contract's overrides validated on top."""
    parts = catalog if isinstance(catalog, CatalogParts) else CatalogParts.of(catalog)
    resolved: dict[tuple[str, int], tuple[ChargeModel, ...]] = {}
    problems: list[Problem] = []
    metrics = {m.code: m for m in parts.metrics.values()}
    metric_codes = parts.codes("metrics")
    plans = parts.plans_by_code
    for (i, j), (customer_id, contract) in sorted(parts.contracts.items()):
        plan = plans.get(contract.plan)
        if plan is None:
            continue  # an unknown plan, or one with problems of its own: reported as such
        charges = list(plan.charges)
        for index, override in sorted(contract.overrides.items()):
            if not 0 <= index < len(charges):
                continue  # reported by cross_check
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
            problems += _check_charge_metric(where, charge, metrics, metric_codes)
            problems += _charge_amount_beyond_minor_units(where, charge, parts.currency)
            charges[index] = charge
        resolved[(customer_id, j)] = tuple(charges)
    return resolved, problems
