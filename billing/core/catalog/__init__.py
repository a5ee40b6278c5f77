"""The catalog: metrics, plans, charges and customers' contracts, validated into typed objects.

`parse_catalog(data)` (and `load_catalog(path)` in `billing.sources.catalog_file`) refuses a bad
catalog with every problem on its own line, naming the file,
the path inside it and the offending value:
`catalog.yaml: plans[0].charges[1].tiers[1].unit_price: must not be negative (got -6.50)`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.relativedelta import relativedelta
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from billing.core.catalog.contract_days import contract_day_problem
from billing.core.catalog.field_errors import CODE_PATTERN, CUSTOMER_ID_PATTERN, EMAIL_PATTERN
from billing.core.catalog.problems import (
    CatalogParts,
    cross_check,
    format_problem,
    pydantic_problems,
    resolve_overrides,
)
from billing.core.errors import CatalogError, MoneyError, UnknownCustomer, UnknownMetric, UnknownPlan
from billing.core.money import Currency, decimal_places, plain
from billing.core.pricing import AnyCharge, ChargeModel
from billing.core.pricing.base import LocatedValueError, Price

Aggregation = Literal["count", "sum", "max", "unique_count", "latest"]
Interval = Literal["monthly", "quarterly", "yearly"]
INTERVAL_MONTHS: dict[str, int] = {"monthly": 1, "quarterly": 3, "yearly": 12}
AGGREGATIONS_WITH_FIELD = {"sum", "max", "unique_count", "latest"}

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=CODE_PATTERN)]
CustomerId = Annotated[str, Field(min_length=1, max_length=255, pattern=CUSTOMER_ID_PATTERN)]


def _currency(value: object) -> Currency:
    if isinstance(value, Currency):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 4217 currency code such as 'USD'")
    try:
        return Currency.of(value)
    except MoneyError as error:
        raise ValueError(str(error)) from None


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}: use an IANA name such as 'Europe/Paris'") from None
    return value


def _filter_value(value: object) -> str | bool | Decimal:
    """Filter values compare like event properties: strings, booleans or exact numbers."""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | Decimal):
        return Decimal(value)
    raise ValueError("must be a string, a number or a boolean")


CurrencyField = Annotated[Currency, PlainValidator(_currency), PlainSerializer(str)]
FilterValue = Annotated[
    str | bool | Decimal,
    PlainValidator(_filter_value),
    PlainSerializer(lambda v: v if isinstance(v, bool | str) else plain(v)),
]
CreditAmount = Annotated[Price, AfterValidator(lambda v: v if v > 0 else _fail("must be positive"))]


def _fail(message: str) -> Any:
    raise ValueError(message)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SpendAlert = Annotated[Price, AfterValidator(lambda v: v if v > 0 else _fail("must be positive"))]

REMINDER_KINDS = ("trial_ending", "renewal_upcoming", "contract_ending")
"""The reminders whose offsets (days before the thing happens) a plan or a contract may set."""
DEFAULT_OFFSETS: dict[str, tuple[int, ...]] = {
    "trial_ending": (3,),
    "renewal_upcoming": (30, 7),
    "contract_ending": (30,),
}


def _offsets(value: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(value)) != len(value):
        raise ValueError("lists an offset twice")
    return tuple(sorted(value, reverse=True))


# strict: YAML reads `true`/`yes`/`on` as a boolean, which a lax int would take as 1 day
Offset = Annotated[int, Field(ge=1, le=366, strict=True)]
Offsets = Annotated[tuple[Offset, ...], Field(max_length=10), AfterValidator(_offsets)]


class NotificationOffsets(_Model):
    """Days before the thing happens each reminder goes out; None: the plan's, else the default."""

    trial_ending: Offsets | None = None
    renewal_upcoming: Offsets | None = None
    contract_ending: Offsets | None = None

    def get(self, kind: str) -> tuple[int, ...] | None:
        value: tuple[int, ...] | None = getattr(self, kind)
        return value


NO_OFFSETS = NotificationOffsets()


def _unique_alerts(alerts: tuple[Decimal, ...]) -> tuple[Decimal, ...]:
    seen: set[Decimal] = set()
    for index, alert in enumerate(alerts):
        if alert in seen:
            raise LocatedValueError("duplicate spend alert", (index,), alert)
        seen.add(alert)
    return alerts


SpendAlerts = Annotated[tuple[SpendAlert, ...], Field(max_length=20), AfterValidator(_unique_alerts)]
SPEND_ALERTS: TypeAdapter[tuple[Decimal, ...]] = TypeAdapter(SpendAlerts)


class Metric(_Model):
    """What to measure: which events, which property, aggregated how."""

    code: Code
    name: str | None = None
    event_type: str = Field(min_length=1)
    aggregation: Aggregation
    field: str | None = Field(default=None, min_length=1)
    filters: dict[str, FilterValue] = Field(default_factory=dict)
    allow_negative: bool = False  # negative values of `field` are refused at ingest unless true

    @model_validator(mode="after")
    def _field_matches_aggregation(self) -> Metric:
        if self.aggregation in AGGREGATIONS_WITH_FIELD and self.field is None:
            raise ValueError(f"aggregation {self.aggregation!r} needs a 'field' to aggregate")
        if self.aggregation == "count" and self.field is not None:
            raise ValueError("aggregation 'count' counts events and takes no 'field'")
        return self

    @property
    def label(self) -> str:
        return self.name or self.code.replace("_", " ").capitalize()


class Plan(_Model):
    code: Code
    name: str | None = None
    interval: Interval
    trial_days: int = Field(default=0, ge=0, strict=True)
    minimum_commitment: Price | None = None
    charges: tuple[AnyCharge, ...] = Field(min_length=1)
    notifications: NotificationOffsets = NO_OFFSETS

    @property
    def label(self) -> str:
        return self.name or self.code

    @property
    def interval_months(self) -> int:
        return INTERVAL_MONTHS[self.interval]


class Credit(_Model):
    """Prepaid credit serving invoices issued from `granted_on` through `expires_on`."""

    amount: CreditAmount
    granted_on: date
    expires_on: date | None = None

    @model_validator(mode="after")
    def _expires_after_grant(self) -> Credit:
        if self.expires_on is not None and self.expires_on < self.granted_on:
            raise ValueError(f"expires_on {self.expires_on} is before granted_on {self.granted_on}")
        return self


class Contract(_Model):
    plan: Code
    starts_on: date
    ends_on: date | None = None
    auto_renew: bool = False
    term_months: int | None = Field(default=None, gt=0, strict=True)
    overrides: dict[int, dict[str, Any]] = Field(default_factory=dict)
    credits: tuple[Credit, ...] = ()
    notifications: NotificationOffsets = NO_OFFSETS

    @model_validator(mode="after")
    def _ends_after_start(self) -> Contract:
        if self.ends_on is not None and self.ends_on < self.starts_on:
            raise ValueError(f"ends_on {self.ends_on} is before starts_on {self.starts_on}")
        problem = contract_day_problem(self.starts_on, self.ends_on, self.term_months)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def last_day(self) -> date | None:
        """The last day billed: `ends_on`, else the end of a term that does not renew."""
        if self.ends_on is not None:
            return self.ends_on
        if self.term_months is not None and not self.auto_renew:
            return self.starts_on + relativedelta(months=self.term_months, days=-1)
        return None


def _percent(value: Decimal) -> Decimal:
    if not value.is_finite() or not 0 <= value <= 100:
        raise ValueError("must be a percentage from 0 to 100")
    if decimal_places(value) > 12:
        raise ValueError("has more than 12 decimals")
    return value


class TaxRate(_Model):
    """An exclusive tax: `rate` percent ("20" = 20 %) of the invoice's subtotal."""

    name: str = Field(min_length=1, max_length=64)
    rate: Annotated[Decimal, AfterValidator(_percent)]


def _unique_names(rates: tuple[TaxRate, ...]) -> tuple[TaxRate, ...]:
    seen: set[str] = set()
    for index, rate in enumerate(rates):
        if rate.name in seen:
            raise LocatedValueError("duplicate tax name", (index, "name"), rate.name)
        seen.add(rate.name)
    return rates


Text = Annotated[str, Field(min_length=1, max_length=200)]
AddressLines = Annotated[tuple[Text, ...], Field(max_length=8)]


class Seller(_Model):
    """Who issues the invoices: printed at the top of every invoice document."""

    name: Text
    address: AddressLines = ()
    email: str | None = Field(default=None, pattern=EMAIL_PATTERN)
    tax_id: Text | None = None


class Customer(_Model):
    id: CustomerId
    name: str | None = None
    email: str = Field(pattern=EMAIL_PATTERN)
    timezone: Annotated[str, AfterValidator(_timezone)] = "UTC"
    tax_rates: Annotated[tuple[TaxRate, ...], AfterValidator(_unique_names)] = ()
    address: AddressLines = ()  # printed on invoices, one line each
    tax_id: Text | None = None
    spend_alerts: SpendAlerts = ()  # running-total thresholds of a period, each crossed once
    contracts: tuple[Contract, ...] = ()

    @property
    def taxes(self) -> tuple[tuple[str, Decimal], ...]:
        """`(name, percent)` of each tax rate, in catalog order."""
        return tuple((rate.name, rate.rate) for rate in self.tax_rates)

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Catalog(_Model):
    currency: CurrencyField
    metrics: tuple[Metric, ...] = Field(min_length=1)
    plans: tuple[Plan, ...] = Field(min_length=1)
    customers: tuple[Customer, ...] = ()
    seller: Seller | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    @cached_property
    def metrics_by_code(self) -> dict[str, Metric]:
        return {m.code: m for m in self.metrics}

    @cached_property
    def plans_by_code(self) -> dict[str, Plan]:
        return {p.code: p for p in self.plans}

    @cached_property
    def customers_by_id(self) -> dict[str, Customer]:
        return {c.id: c for c in self.customers}

    @cached_property
    def document(self) -> str:
        """The canonical JSON form, stored as the catalog version and hashed into its key.

        A numeric filter value is written as a JSON number, not as the string the JSON dump
        makes of every Decimal: `{"tier": 2}` must come back from the stored version as the
        number 2, or a run with that version would meter the filter against the string "2"."""
        data = self.model_dump(mode="json")
        _drop_unset_lifecycle_fields(data)  # the versions stored before these fields keep their hash
        numbers: dict[str, str] = {}
        for dumped, metric in zip(data["metrics"], self.metrics, strict=True):
            for key, value in metric.filters.items():
                if isinstance(value, Decimal):
                    token = f"\x00number:{len(numbers)}"  # no catalog string holds a NUL
                    numbers[json.dumps(token)] = plain(value)
                    dumped["filters"][key] = token
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        for token, number in numbers.items():
            text = text.replace(token, number)
        return text

    @cached_property
    def version(self) -> str:
        """The content hash that keys this catalog's immutable stored version."""
        return hashlib.sha256(self.document.encode()).hexdigest()

    @cached_property
    def derived(self) -> dict[Any, Any]:
        """A memo for values derived from this immutable catalog (customers' schedules)."""
        return {}

    def metric(self, code: str) -> Metric:
        try:
            return self.metrics_by_code[code]
        except KeyError:
            known = ", ".join(self.metrics_by_code)
            raise UnknownMetric(f"unknown metric {code!r} (known: {known})") from None

    def plan(self, code: str) -> Plan:
        try:
            return self.plans_by_code[code]
        except KeyError:
            known = ", ".join(self.plans_by_code)
            raise UnknownPlan(f"unknown plan {code!r} (known: {known})") from None

    def customer(self, customer_id: str) -> Customer:
        try:
            return self.customers_by_id[customer_id]
        except KeyError:
            raise UnknownCustomer.named(customer_id) from None

    @cached_property
    def _contract_charges(self) -> dict[tuple[str, int], tuple[ChargeModel, ...]]:
        resolved, problems = resolve_overrides(self)
        if problems:  # parse_catalog reports these; a hand-built catalog gets them here
            raise CatalogError([f"{path}: {message}" for path, message, _ in problems])
        return resolved

    def contract_charges(self, customer_id: str, index: int) -> tuple[ChargeModel, ...]:
        """The charges of a customer's contract: its plan's, with the contract's overrides."""
        return self._contract_charges[(customer_id, index)]

    @cached_property
    def event_counted_metrics(self) -> frozenset[str]:
        """Metrics whose number of events is part of their usage: counts, and those a charge
        prices per event. Metering reports `events` for these only, in SQL and in Python alike."""
        charges = [c for p in self.plans for c in p.charges]
        charges += [c for resolved in self._contract_charges.values() for c in resolved]
        per_event = {c.metric_code for c in charges if c.prices_events and c.metric_code}
        return frozenset({m.code for m in self.metrics if m.aggregation == "count"} | per_event)

    def metrics_for_event_type(self, event_type: str) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.event_type == event_type)


def _drop_unset_lifecycle_fields(data: dict[str, Any]) -> None:
    """Leave `notifications` and `spend_alerts` out of the document where they are unset."""
    for plan in data["plans"]:
        if not any(plan["notifications"].values()):
            del plan["notifications"]
    for customer in data["customers"]:
        if not customer["spend_alerts"]:
            del customer["spend_alerts"]
        for contract in customer["contracts"]:
            if not any(contract["notifications"].values()):
                del contract["notifications"]


def reminder_offsets(kind: str, plan: Plan, contract: Contract) -> tuple[int, ...]:
    """The days before the thing happens a reminder of `kind` goes out, largest first: the
    contract's own setting wins over its plan's, which wins over the default."""
    for chosen in (contract.notifications.get(kind), plan.notifications.get(kind)):
        if chosen is not None:
            return chosen
    return DEFAULT_OFFSETS[kind]


# -- loading -----------------------------------------------------------------------------------


def parse_catalog(data: object, source: str = "catalog") -> Catalog:
    """Validate parsed catalog data (a mapping) into a `Catalog`."""
    if not isinstance(data, dict):
        raise CatalogError([f"{source}: the catalog must be a mapping with currency, metrics, plans"])
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as error:  # and what spans the items that are valid on their own
        parts = CatalogParts.of_data(data)
        found = pydantic_problems(error) + cross_check(parts) + resolve_overrides(parts)[1]
        raise CatalogError([format_problem(source, *p) for p in found]) from None
    problems = cross_check(catalog)
    if not problems:
        resolved, problems = resolve_overrides(catalog)
        catalog.__dict__["_contract_charges"] = resolved
    if problems:
        raise CatalogError([format_problem(source, *p) for p in problems])
    return catalog


def catalog_from_document(document: str) -> Catalog:
    """Rebuild a stored catalog version from its canonical JSON document."""
    return parse_catalog(json.loads(document, parse_float=Decimal), "stored catalog")
