"""The usage-event expectation suite, built from the catalog and run on each chunk as a frame.

Great Expectations takes seconds to import, so it is imported on first use: quoting and
read-only commands never pay for it. One `batch.validate` costs about 15 ms per expectation
whatever the number of rows, so the suite is small: one rule for the top-level fields, one for
the event types, one for the timestamp window and one per metric with a field. It is built
once per catalog version (`catalog.derived`: the catalog is immutable); the window's upper end,
now + 5 minutes, is a suite parameter given at each run. Customer ids are checked by a database
join instead (a value set of thousands of ids costs a second per run).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from billing.core.catalog import Catalog
from billing.core.events import (
    EARLIEST_TIMESTAMP,
    FUTURE_TOLERANCE,
    before_earliest,
    format_timestamp,
    shown,
)
from billing.core.metering import property_problem
from billing.sources.usage_files import RawRecord
from billing.validation.frame import EventFrame, build_frame
from billing.validation.rules import (
    EVENT_TYPE_RULE,
    FIELDS_RULE,
    TIMESTAMP_RULE,
    TOP_LEVEL_FIELDS,
    CatalogRules,
    RowVerdict,
    RuleFailure,
    presence_column,
    verdict,
)
from billing.validation.stats import ValidationStats

_LATEST = "latest_timestamp"


@dataclass
class ChunkValidation:
    frame: EventFrame
    failed: dict[int, RowVerdict]  # by record index
    stats: ValidationStats


class EventSuite:
    """Runs a catalog's expectation suite over chunks; one per process (it holds a GX context)."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        asset = context.data_sources.add_pandas("usage").add_dataframe_asset("chunk")
        self._batches = asset.add_batch_definition_whole_dataframe("whole_chunk")
        # One context, one batch definition: two threads validating at once (the API's thread
        # pool) would read each other's dataframe. GX holds the GIL while it works anyway.
        self._validating = threading.Lock()

    def expectations(self, catalog: Catalog) -> Any:
        """The catalog's expectation suite, built once per catalog version."""
        key = ("expectation_suite",)
        suite = catalog.derived.get(key)
        if suite is None:
            suite = self._build(CatalogRules.of(catalog))
            catalog.derived[key] = suite
        return suite

    def _build(self, rules: CatalogRules) -> Any:
        expect = self._gx.expectations
        suite = self._gx.ExpectationSuite(name="usage_events")
        presence = [presence_column(name) for name in TOP_LEVEL_FIELDS]
        suite.add_expectation(
            expect.ExpectMulticolumnSumToEqual(column_list=presence, sum_total=len(presence))
        )
        suite.add_expectation(
            expect.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(rules.event_types))
        )
        # bounds on UTC timestamps must be tz-aware: a naive one fails inside GX silently
        suite.add_expectation(
            expect.ExpectColumnValuesToBeBetween(
                column="timestamp",
                min_value=pd.Timestamp(EARLIEST_TIMESTAMP),
                max_value={"$PARAMETER": _LATEST},
            )
        )
        # one expectation for every metric's rule: each expectation costs ~15 ms a run
        columns = [rule.column for rule in rules.properties]
        if len(columns) == 1:
            suite.add_expectation(expect.ExpectColumnValuesToBeInSet(column=columns[0], value_set=[True]))
        elif columns:
            suite.add_expectation(
                expect.ExpectMulticolumnSumToEqual(column_list=columns, sum_total=len(columns))
            )
        return suite

    def validate(self, records: list[RawRecord] | Any, catalog: Catalog, now: datetime) -> ChunkValidation:
        """Every record's failed rules, Python's and the suite's; raises if the suite could not run."""
        started = time.perf_counter()
        rules = CatalogRules.of(catalog)
        frame = build_frame(records, catalog)
        failures = {index: list(found) for index, found in frame.problems.items()}
        stats = ValidationStats(chunks=1, rows_checked=len(frame.rows), rules=list(rules.names))
        if frame.rows:
            describe = _Descriptions(frame, rules)
            suite_started = time.perf_counter()
            expectations = self.expectations(catalog)
            with self._validating:
                batch = self._batches.get_batch(batch_parameters={"dataframe": frame.table})
                result = batch.validate(
                    expectations,
                    result_format="COMPLETE",
                    expectation_parameters={_LATEST: pd.Timestamp(now + FUTURE_TOLERANCE)},
                )
            stats.expectation_runs = len(result.results)
            stats.suite_seconds = time.perf_counter() - suite_started
            for outcome in result.results:
                info = outcome.exception_info or {}
                if info.get("raised_exception"):
                    raise RuntimeError(f"expectation could not run: {info.get('exception_message')}")
                kwargs = outcome.expectation_config.kwargs
                explain = describe.by_column[kwargs.get("column") or tuple(kwargs["column_list"])]
                for row in outcome.result.get("unexpected_index_list") or []:
                    failures.setdefault(frame.rows[row], []).extend(explain(row))
        failed = {}
        for index, found in sorted(failures.items()):
            failed[index] = verdict(found)
            stats.failures.update({f.rule for f in found})
        stats.seconds = time.perf_counter() - started
        return ChunkValidation(frame, failed, stats)


class _Descriptions:
    """Each GX rule's failure on one table row in words, with the value."""

    def __init__(self, frame: EventFrame, rules: CatalogRules) -> None:
        self.frame = frame
        self.rules = rules
        presence = tuple(presence_column(name) for name in TOP_LEVEL_FIELDS)
        self.by_column: dict[str | tuple[str, ...], Callable[[int], list[RuleFailure]]] = {
            presence: self.fields,
            "event_type": self.event_type,
            "timestamp": self.timestamp,
        }
        columns = tuple(rule.column for rule in rules.properties)
        if columns:
            self.by_column[columns[0] if len(columns) == 1 else columns] = self.properties

    def _value(self, row: int, name: str) -> Any:
        obj = self.frame.objects[self.frame.rows[row]]
        return obj.get(name)

    def fields(self, row: int) -> list[RuleFailure]:
        found = []
        for name in TOP_LEVEL_FIELDS:
            if self.frame.table.at[row, presence_column(name)]:
                continue
            value = self._value(row, name)
            if value is None or value == "":
                found.append(RuleFailure(FIELDS_RULE, "missing_field", f"{name} is missing"))
            elif name == "properties":
                found.append(RuleFailure(FIELDS_RULE, "malformed_field", "properties must be a JSON object"))
            else:
                kind = "an ISO 8601 string" if name == "timestamp" else "a string"
                detail = f"{name} must be {kind}, got {shown(value)}"
                found.append(RuleFailure(FIELDS_RULE, "malformed_field", detail))
        return found

    def event_type(self, row: int) -> list[RuleFailure]:
        detail = (
            f"no metric of the catalog counts event_type {shown(self.frame.table.at[row, 'event_type'])} "
            f"(known: {', '.join(self.rules.event_types)})"
        )
        return [RuleFailure(EVENT_TYPE_RULE, "unknown_event_type", detail)]

    def timestamp(self, row: int) -> list[RuleFailure]:
        instant = self.frame.instants[row]
        value = self._value(row, "timestamp")
        if instant is not None and instant < EARLIEST_TIMESTAMP:
            return [RuleFailure(TIMESTAMP_RULE, "timestamp_out_of_range", before_earliest(value))]
        written = format_timestamp(instant) if instant is not None else shown(value)
        detail = f"timestamp {written} is more than 5 minutes in the future"
        return [RuleFailure(TIMESTAMP_RULE, "future_timestamp", detail)]

    def properties(self, row: int) -> list[RuleFailure]:
        found = []
        for rule in self.rules.properties:
            if self.frame.table.at[row, rule.column]:
                continue
            properties = self.frame.properties_as_stored(row)
            problem = property_problem(rule.metric, properties, rule.bound)
            detail = problem or f"properties.{rule.field} cannot be aggregated by metric {rule.metric.code!r}"
            found.append(RuleFailure(rule.name, "invalid_property", detail))
        return found
