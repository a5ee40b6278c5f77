"""The rules a chunk of usage events is validated against, derived once from a catalog.

Who states which rule (each is stated exactly once):

- Python, per row, what only Python can do: read the JSON exactly (numbers as `Decimal`), refuse
  text no database stores (NUL, lone surrogates), nesting deeper than 32, ids over 255
  characters or padded with spaces, unknown top-level fields, a timestamp that is not ISO 8601
  with an offset, numbers past the exact range; and build the typed columns.
- Great Expectations, over the chunk as one frame (`billing.validation.suite`): the top-level
  fields present and of their type, the event type one the catalog's metrics count, the
  timestamp window (2000-01-01 to now + 5 minutes), and per metric with a field the value
  that metric aggregates (present, a number or a decimal string for sum/max/latest, not
  negative unless `allow_negative`, at most what an invoice line can bill).

A row's quarantine reason is its first failed rule by `REASON_PRIORITY`; its detail names every
failed rule of the row, in that order, with the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.core.admission import AdmissionRules
from billing.core.catalog import Catalog, Metric
from billing.core.metering import NUMERIC_AGGREGATIONS

# the most fundamental first: a row that cannot be read, then its shape, its time, what it counts
REASON_PRIORITY = (
    "unreadable_row",
    "malformed_json",
    "missing_field",
    "malformed_field",
    "timestamp_out_of_range",
    "future_timestamp",
    "unknown_event_type",
    "invalid_property",
)
TOP_LEVEL_FIELDS = ("transaction_id", "customer_id", "event_type", "timestamp", "properties")

FIELDS_RULE = "top-level fields present and typed"
EVENT_TYPE_RULE = "event_type counted by a metric"
TIMESTAMP_RULE = "timestamp from 2000-01-01 to now + 5 minutes"


def presence_column(field: str) -> str:
    return f"has_{field}"


@dataclass(frozen=True, slots=True)
class PropertyRule:
    """One metric's rule on the value it aggregates, over the rows it applies to."""

    column: str  # the exact boolean column GX states the rule on
    metric: Metric
    bound: Decimal | None  # the largest absolute value an invoice line bills, None: any

    @property
    def field(self) -> str:
        return self.metric.field or ""

    @property
    def numeric(self) -> bool:
        return self.metric.aggregation in NUMERIC_AGGREGATIONS

    @property
    def name(self) -> str:
        return f"properties.{self.field} aggregable by metric {self.metric.code}"


@dataclass(frozen=True, slots=True)
class CatalogRules:
    event_types: tuple[str, ...]
    properties: tuple[PropertyRule, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The rules Great Expectations evaluates, in the suite's order."""
        return (FIELDS_RULE, EVENT_TYPE_RULE, TIMESTAMP_RULE, *(p.name for p in self.properties))

    @staticmethod
    def of(catalog: Catalog) -> CatalogRules:
        """The rules of one catalog, derived once per catalog version (it is immutable)."""
        key = ("validation_rules",)
        rules: CatalogRules | None = catalog.derived.get(key)
        if rules is None:
            admission = AdmissionRules.of(catalog)
            properties = tuple(
                PropertyRule(f"aggregable_{index}", metric, admission.bounds.get(metric.code))
                for index, metric in enumerate(m for m in catalog.metrics if m.field)
            )
            rules = CatalogRules(tuple(sorted(admission.metrics_by_type)), properties)
            catalog.derived[key] = rules
        return rules


@dataclass(frozen=True, slots=True)
class RuleFailure:
    """One failed rule of one row: which rule, the reason code it means, the value in words."""

    rule: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class RowVerdict:
    reason: str
    detail: str
    rules: tuple[str, ...]


_RANK = {reason: rank for rank, reason in enumerate(REASON_PRIORITY)}


def verdict(failures: list[RuleFailure]) -> RowVerdict:
    """The row's reason (its first failed rule by `REASON_PRIORITY`) and a detail naming all."""
    ordered = sorted(failures, key=lambda f: _RANK.get(f.reason, len(_RANK)))  # stable
    return RowVerdict(ordered[0].reason, "; ".join(f.detail for f in ordered), tuple(f.rule for f in ordered))
