"""A chunk of raw records as the typed table the expectation suite validates.

Python does here, row by row, only what only Python can do (`billing.validation.rules` lists
it): read each record's JSON exactly, refuse what cannot be read or stored, and build typed
columns. Nothing here decides whether a field is missing, an event type known, a timestamp
in its window or a property billable: those are the suite's rules, stated over these columns.
A value that cannot take its column's type (a number as a customer id) leaves the column empty
and its `has_` presence column false, for the suite's field rule to name.

The per-metric columns are exact booleans computed once here over `Decimal` values: Great
Expectations compares numbers as floats (a bound of 999999999999.999 would let
999999999999.99901 through), so it states the rule on the booleans instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from billing.core.admission import number_from_text
from billing.core.catalog import Catalog
from billing.core.events import (
    EVENT_FIELDS,
    MAX_ID_LENGTH,
    EventRejected,
    UsageEvent,
    identifier_problem,
    quantity_problem,
    read_row,
    read_timestamp,
    storable,
    value_problem,
)
from billing.core.metering import same_value
from billing.sources.usage_files import RawRecord
from billing.validation.rules import (
    TOP_LEVEL_FIELDS,
    CatalogRules,
    PropertyRule,
    RuleFailure,
    presence_column,
)

ID_FIELDS = ("transaction_id", "customer_id", "event_type")
# pandas holds instants from 1677 to 2262: others are written as these (both outside the
# window), and a failure names the real instant, which `EventFrame.instants` keeps
TABLE_FLOOR = datetime(1900, 1, 1, tzinfo=UTC)
TABLE_CEILING = datetime(2200, 1, 1, tzinfo=UTC)
_MISSING = object()
_ZERO = Decimal(0)


@dataclass
class EventFrame:
    """`table` has one row per record that was read as a JSON object: `rows[i]` is the index of
    table row i's record; the lists after it are per table row too."""

    records: Sequence[RawRecord]
    objects: list[Any] = field(default_factory=list)  # per record, None where it could not be read
    problems: dict[int, list[RuleFailure]] = field(default_factory=dict)  # by record, Python's rules
    rows: list[int] = field(default_factory=list)
    ids: dict[str, list[str | None]] = field(default_factory=dict)  # by field, per table row
    instants: list[datetime | None] = field(default_factory=list)
    properties: list[Mapping[str, Any]] = field(default_factory=list)
    numbers: dict[int, dict[str, Decimal]] = field(default_factory=dict)  # decimal strings read
    table: pd.DataFrame = field(default_factory=pd.DataFrame)

    def fail(self, index: int, failure: RuleFailure) -> None:
        """Record `index` failed one of Python's rules."""
        self.problems.setdefault(index, []).append(failure)

    def properties_as_stored(self, row: int) -> Mapping[str, Any]:
        """Table row `row`'s properties with decimal strings that metrics aggregate as numbers."""
        numbers = self.numbers.get(row)
        return self.properties[row] if numbers is None else {**self.properties[row], **numbers}

    def event(self, row: int) -> UsageEvent:
        """Table row `row` as it is stored (only for a row that failed no rule)."""
        txid, customer, event_type = (self.ids[name][row] for name in ID_FIELDS)
        instant = self.instants[row]
        # a row missing any of them failed the field rule
        assert txid is not None and customer is not None and event_type is not None and instant
        return UsageEvent(txid, customer, event_type, instant, dict(self.properties_as_stored(row)))


def _object(record: RawRecord) -> Any:
    if record.unreadable is not None:
        raise EventRejected("unreadable_row", record.unreadable)
    if record.text is None:
        return record.data
    return read_row(record.text)


class _Columns:
    """The typed columns, filled row by row (the hot loop: one dict lookup per field, C-level
    checks for the usual values, the careful ones only for the rest)."""

    def __init__(self, frame: EventFrame) -> None:
        self.frame = frame
        self.ids: dict[str, list[str | None]] = {name: [] for name in ID_FIELDS}
        self.present: dict[str, list[bool]] = {name: [] for name in TOP_LEVEL_FIELDS}

    def read(self, index: int, record: Mapping[str, Any]) -> None:
        frame, present = self.frame, self.present
        for name in ID_FIELDS:
            value = record.get(name)
            if type(value) is str and 0 < len(value) <= MAX_ID_LENGTH and value.isascii():
                if "\x00" in value or value != value.strip():
                    value = self._identifier(index, name, value)
            elif isinstance(value, str) and value != "":
                value = self._identifier(index, name, value)
            else:
                value = None
            present[name].append(value is not None)
            self.ids[name].append(value)
        stamp = record.get("timestamp")
        typed = type(stamp) is str or type(stamp) is Decimal
        present["timestamp"].append(typed and stamp != "")
        instant = None
        if typed and stamp != "":
            try:
                instant = read_timestamp(stamp)
            except EventRejected as rejection:
                frame.fail(index, RuleFailure("timestamp readable", rejection.reason, rejection.detail))
        frame.instants.append(instant)
        properties = record.get("properties")
        if properties is None:
            properties = {}
            present["properties"].append(True)
        elif type(properties) is dict or isinstance(properties, Mapping):
            present["properties"].append(True)
            problem = value_problem(properties, "properties", 2)
            if problem:
                frame.fail(index, RuleFailure("properties readable", *problem))
        else:
            properties = {}
            present["properties"].append(False)
        frame.properties.append(properties)
        if not record.keys() <= EVENT_FIELDS:
            unknown = sorted(map(str, set(record) - EVENT_FIELDS))[0][:80]
            frame.fail(
                index, RuleFailure("no unknown fields", "malformed_field", f"unknown field {unknown!r}")
            )

    def _identifier(self, index: int, name: str, value: str) -> str:
        problem = identifier_problem(name, value)
        if problem is None:
            return value
        self.frame.fail(index, RuleFailure(f"{name} readable", *problem))
        return storable(value)  # the table holds text pandas can hash


def build_frame(records: Sequence[RawRecord], catalog: Catalog) -> EventFrame:
    frame = EventFrame(records)
    columns = _Columns(frame)
    for index, record in enumerate(records):
        try:
            obj = _object(record)
        except EventRejected as rejection:
            frame.objects.append(None)
            frame.fail(index, RuleFailure("row readable", rejection.reason, rejection.detail))
            continue
        frame.objects.append(obj)
        if type(obj) is dict or isinstance(obj, Mapping):
            frame.rows.append(index)
            columns.read(index, obj)
        else:
            frame.fail(
                index, RuleFailure("row readable", "malformed_field", "an event must be a JSON object")
            )
    stamps = [None if i is None else min(max(i, TABLE_FLOOR), TABLE_CEILING) for i in frame.instants]
    frame.ids = columns.ids
    # only the columns a rule reads: GX hashes the whole frame twice per run (about 5 ms per
    # 50,000 ids of text), so the transaction and customer ids stay out of it
    event_types = pd.Series(columns.ids["event_type"], dtype="category")
    table: dict[str, Any] = {"event_type": event_types}
    table["timestamp"] = pd.Series(pd.to_datetime(stamps, utc=True))
    for name, flags in columns.present.items():
        table[presence_column(name)] = np.array(flags, dtype=bool)
    for rule in CatalogRules.of(catalog).properties:
        table[rule.column] = _aggregable(frame, event_types, rule)
    frame.table = pd.DataFrame(table, index=pd.RangeIndex(len(frame.rows)))
    return frame


def _aggregable(frame: EventFrame, event_types: pd.Series, rule: PropertyRule) -> np.ndarray:
    """Per table row: whether the metric does not apply, or can aggregate the row's value.
    The rows of the metric's event type are found on the categorical column at once; only
    those are looked at in Python, their numbers compared exactly as `Decimal`s (no float)."""
    metric, name = rule.metric, rule.field
    flags = np.ones(len(event_types), dtype=bool)
    typed = np.flatnonzero((event_types == metric.event_type).to_numpy(dtype=bool))
    applying, values = [], []
    for row in typed.tolist():
        properties = frame.properties[row]
        if metric.filters and not all(
            same_value(properties.get(k, _MISSING), v) for k, v in metric.filters.items()
        ):
            continue
        applying.append(row)
        values.append(properties.get(name))
    if not applying:
        return flags
    if not rule.numeric:  # unique_count: a string or a number
        flags[applying] = [isinstance(v, str | Decimal) and not isinstance(v, bool) for v in values]
        return flags
    negative_ok, bound = metric.allow_negative, rule.bound
    flags[applying] = [
        number is not None
        and not number.is_nan()  # a Parquet float's NaN: no number to aggregate
        and (negative_ok or number >= _ZERO)
        and (bound is None or number.copy_abs() <= bound)
        for number in (_number(frame, row, name, v) for row, v in zip(applying, values, strict=True))
    ]
    return flags


def _number(frame: EventFrame, row: int, name: str, value: Any) -> Decimal | None:
    """A value as the number a metric aggregates; a decimal string is read exactly (kept in
    `frame.numbers`, its reading problem among the record's); None if it is no number."""
    if type(value) is Decimal:
        return value
    if not isinstance(value, str):
        return None
    number = number_from_text(value)
    if number is None:
        return None
    problem = quantity_problem(number)
    if problem:
        failure = RuleFailure("properties readable", "invalid_property", f"properties.{name} {problem}")
        frame.fail(frame.rows[row], failure)  # as for a JSON number past the range
    frame.numbers.setdefault(row, {})[name] = number
    return number
