"""What the catalog admits: the rules on one event that need the catalog.

An event that passed its own checks (`billing.core.events.parse_event`) is admitted when a metric
of the catalog counts its `event_type` (else `unknown_event_type`: revenue must not vanish
silently) and every metric that counts it can aggregate its value (else `invalid_property`): a
number, given as a JSON number or a decimal string ("12.5"); not negative unless the metric has
`allow_negative`; no larger than an invoice line can bill under the charges on the metric
(`billing.core.quantity_bounds`). A decimal string in a field a `sum`, `max` or `latest` metric
aggregates is stored as the number it writes, so SQL meters it exactly on every database and
"12.5" and 12.5 are the same event; other properties are kept as they came.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from billing.core.catalog import Catalog, Metric
from billing.core.events import EventRejected, UsageEvent, quantity_problem, shown
from billing.core.metering import NUMERIC_AGGREGATIONS, event_property_problem, metric_applies
from billing.core.quantity_bounds import metric_quantity_bounds

# the JSON number grammar (RFC 8259 section 6), as the text of a decimal string
_DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class AdmissionRules:
    """The catalog's metrics by event type and the largest value each metric may carry."""

    metrics_by_type: Mapping[str, tuple[Metric, ...]]
    bounds: Mapping[str, Decimal]
    numeric_by_type: Mapping[str, tuple[Metric, ...]]  # the metrics aggregating a field as numbers

    @staticmethod
    def of(catalog: Catalog) -> AdmissionRules:
        """The rules of one catalog, derived once per catalog version (it is immutable)."""
        key = ("admission_rules",)
        rules: AdmissionRules | None = catalog.derived.get(key)
        if rules is None:
            by_type: dict[str, tuple[Metric, ...]] = {}
            for metric in catalog.metrics:
                by_type[metric.event_type] = (*by_type.get(metric.event_type, ()), metric)
            charges = [c for plan in catalog.plans for c in plan.charges]
            for customer in catalog.customers:
                for index in range(len(customer.contracts)):
                    charges.extend(catalog.contract_charges(customer.id, index))
            numeric = {
                kind: tuple(m for m in metrics if m.field and m.aggregation in NUMERIC_AGGREGATIONS)
                for kind, metrics in by_type.items()
            }
            rules = AdmissionRules(by_type, metric_quantity_bounds(charges), numeric)
            catalog.derived[key] = rules
        return rules


def admit_event(catalog: Catalog, event: UsageEvent) -> UsageEvent:
    """The event as stored (decimal strings of numeric fields as numbers), or `EventRejected`."""
    rules = AdmissionRules.of(catalog)
    metrics = rules.metrics_by_type.get(event.event_type)
    if not metrics:
        raise EventRejected(
            "unknown_event_type",
            f"no metric of the catalog counts event_type {shown(event.event_type)} "
            f"(known: {', '.join(sorted(rules.metrics_by_type))})",
        )
    admitted = _numbers_from_text(rules.numeric_by_type[event.event_type], event)
    problem = event_property_problem(metrics, admitted, rules.bounds)
    if problem:
        raise EventRejected("invalid_property", problem)
    return admitted


def number_from_text(text: str) -> Decimal | None:
    """The exact number a decimal string writes ("12.5"), or None if it is not a JSON number."""
    return Decimal(text) if _DECIMAL_TEXT.fullmatch(text) is not None else None


def _numbers_from_text(metrics: tuple[Metric, ...], event: UsageEvent) -> UsageEvent:
    """Decimal strings in fields that numeric metrics aggregate, read as exact numbers."""
    changed: dict[str, Any] | None = None
    for metric in metrics:
        field = metric.field or ""
        value = event.properties.get(field)
        if not isinstance(value, str) or not metric_applies(metric, event.event_type, event.properties):
            continue
        number = number_from_text(value)
        if number is None:
            continue  # left as it is: the metric's check names the wrong type
        problem = quantity_problem(number)
        if problem:
            raise EventRejected("invalid_property", f"properties.{field} {problem}")
        if changed is None:
            changed = dict(event.properties)
        changed[field] = number
    return event if changed is None else replace(event, properties=changed)
