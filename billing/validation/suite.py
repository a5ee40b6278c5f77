"""The usage-event expectation suite, built from the catalog and run on each chunk as a frame.

Great Expectations takes seconds to import, so it is imported on first use: quoting and
read-only commands never pay for it. One `batch.validate` costs about 10 ms per expectation
whatever the number of rows, so the suite is small: one for the exact boolean columns (the
top-level fields present and typed, and every metric's rule on the value it aggregates), one
for the event types, two for the timestamp window (from 2000-01-01; at most the row's
`window_end`, its chunk's now + 5 minutes, a column so that chunks of different instants share
a run). It is built once per catalog version
(`catalog.derived`: the catalog is immutable). Customer ids are checked by a database join
instead (a value set of thousands of ids costs a second per run).

Chunks validated at once from several threads (the API's concurrent requests) are run
together, one frame of all their rows per catalog (`combined_runs`): each chunk still gets
exactly its own rows' failures, as if it had been run alone.
"""

from __future__ import annotations

import bisect
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from pandas.api.types import union_categoricals

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
from billing.validation.combined_runs import CombinedRuns
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

# Great Expectations compares the timestamp column with the per-row window end through
# `Series.values`, which pandas 3 warns will keep the time zone one day: a warning about
# Great Expectations' internals that an operator running `billing ingest` can do nothing about.
warnings.filterwarnings(
    "ignore", message="Series.values returning an ndarray that drops timezone", module="pandas"
)

WINDOW_END = "window_end"  # per table row: its chunk's now + 5 minutes, the latest timestamp let in
# an expectation's columns: `column`, or `column_list` / (`column_A`, `column_B`) as a tuple
ColumnKey = str | tuple[str, ...]


@dataclass
class ChunkValidation:
    frame: EventFrame
    failed: dict[int, RowVerdict]  # by record index
    stats: ValidationStats


@dataclass(frozen=True)
class _Chunk:
    """One chunk's table, waiting to be validated (with others of the same catalog)."""

    table: pd.DataFrame
    catalog: Catalog


@dataclass
class _Outcome:
    """A chunk's share of a run: the table rows failing each expectation, by its columns."""

    unexpected: dict[ColumnKey, list[int]] = field(default_factory=dict)
    expectation_runs: int = 0
    seconds: float = 0.0  # the run's time in Great Expectations (shared by its chunks)
    error: Exception | None = None  # the suite could not run on this chunk


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
        # pool) would read each other's dataframe, so runs go one at a time, each taking every
        # chunk that waits. GX holds the GIL while it works anyway.
        self._runs: CombinedRuns[_Chunk, _Outcome] = CombinedRuns(self._run_together)

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
        # the field rule and every metric's rule are exact boolean columns: one expectation
        # says each row has them all true (each costs ~15 ms a run, whatever the rows), and a
        # failing row is described rule by rule from its columns (`_Descriptions.flags`)
        flags = _flag_columns(rules)
        suite.add_expectation(
            expect.ExpectMulticolumnSumToEqual(column_list=list(flags), sum_total=len(flags))
        )
        suite.add_expectation(
            expect.ExpectColumnValuesToBeInSet(column="event_type", value_set=list(rules.event_types))
        )
        # bounds on UTC timestamps must be tz-aware: a naive one fails inside GX silently
        earliest = pd.Timestamp(EARLIEST_TIMESTAMP)
        suite.add_expectation(expect.ExpectColumnValuesToBeBetween(column="timestamp", min_value=earliest))
        # the window's end is per row (its chunk's instant); a row without a timestamp failed
        # the field rule and is not judged here, as the bound above skips it
        suite.add_expectation(
            expect.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=WINDOW_END,
                column_B="timestamp",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            )
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
            frame.table[WINDOW_END] = pd.Timestamp(now + FUTURE_TOLERANCE)
            outcome = self._runs.submit(_Chunk(frame.table, catalog))
            if outcome.error is not None:
                raise outcome.error
            stats.expectation_runs, stats.suite_seconds = outcome.expectation_runs, outcome.seconds
            describe = _Descriptions(frame, rules)
            for key, rows in outcome.unexpected.items():
                explain = describe.by_column[key]
                for row in rows:
                    failures.setdefault(frame.rows[row], []).extend(explain(row))
        failed = {}
        for index, found in sorted(failures.items()):
            failed[index] = verdict(found)
            stats.failures.update({f.rule for f in found})
        stats.seconds = time.perf_counter() - started
        return ChunkValidation(frame, failed, stats)

    def _run_together(self, chunks: Sequence[_Chunk]) -> list[_Outcome]:
        """One run per catalog over all its chunks' rows; each chunk's failures by its own rows.
        If a run of several chunks fails, each is run alone: a chunk's error is its own."""
        outcomes: dict[int, _Outcome] = {}
        for catalog, members in _by_catalog(chunks):
            try:
                outcomes.update(zip(members, self._run([chunks[m] for m in members], catalog), strict=True))
            except Exception as error:
                if len(members) == 1:
                    outcomes[members[0]] = _Outcome(error=error)
                    continue
                for member in members:
                    outcomes[member] = self._run_alone(chunks[member], catalog)
        return [outcomes[n] for n in range(len(chunks))]

    def _run_alone(self, chunk: _Chunk, catalog: Catalog) -> _Outcome:
        try:
            return self._run([chunk], catalog)[0]
        except Exception as error:
            return _Outcome(error=error)

    def _run(self, chunks: Sequence[_Chunk], catalog: Catalog) -> list[_Outcome]:
        started = time.perf_counter()
        starts = [0]
        for chunk in chunks:
            starts.append(starts[-1] + len(chunk.table))
        table = chunks[0].table if len(chunks) == 1 else _joined([chunk.table for chunk in chunks])
        batch = self._batches.get_batch(batch_parameters={"dataframe": table})
        result = batch.validate(self.expectations(catalog), result_format="COMPLETE")
        outcomes = [_Outcome(expectation_runs=len(result.results)) for _ in chunks]
        for outcome in result.results:
            info = outcome.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"expectation could not run: {info.get('exception_message')}")
            key = _columns(outcome.expectation_config.kwargs)
            for row in outcome.result.get("unexpected_index_list") or []:
                member = bisect.bisect_right(starts, row) - 1
                outcomes[member].unexpected.setdefault(key, []).append(row - starts[member])
        seconds = time.perf_counter() - started
        for found in outcomes:
            found.seconds = seconds
        return outcomes


def _by_catalog(chunks: Sequence[_Chunk]) -> list[tuple[Catalog, list[int]]]:
    """The chunks' positions by catalog version (the very object: each has its own suite)."""
    groups: dict[int, tuple[Catalog, list[int]]] = {}
    for position, chunk in enumerate(chunks):
        groups.setdefault(id(chunk.catalog), (chunk.catalog, []))[1].append(position)
    return list(groups.values())


def _joined(tables: list[pd.DataFrame]) -> pd.DataFrame:
    """The chunks' tables as one, rows in order, numbered from 0; event types stay categorical
    (their categories differ per chunk: `concat` would make them objects)."""
    joined = pd.concat(tables, ignore_index=True)
    joined["event_type"] = union_categoricals([table["event_type"] for table in tables])
    return joined


def _flag_columns(rules: CatalogRules) -> tuple[str, ...]:
    """The boolean columns every row must have true: the fields' presence, each metric's rule."""
    presence = tuple(presence_column(name) for name in TOP_LEVEL_FIELDS)
    return presence + tuple(rule.column for rule in rules.properties)


def _columns(kwargs: dict[str, Any]) -> ColumnKey:
    if kwargs.get("column"):
        return str(kwargs["column"])
    if kwargs.get("column_list"):
        return tuple(kwargs["column_list"])
    return (kwargs["column_A"], kwargs["column_B"])


class _Descriptions:
    """Each GX rule's failure on one table row in words, with the value."""

    def __init__(self, frame: EventFrame, rules: CatalogRules) -> None:
        self.frame = frame
        self.rules = rules
        self.by_column: dict[ColumnKey, Callable[[int], list[RuleFailure]]] = {
            _flag_columns(rules): self.flags,
            "event_type": self.event_type,
            "timestamp": self.too_early,
            (WINDOW_END, "timestamp"): self.in_future,
        }

    def _value(self, row: int, name: str) -> Any:
        obj = self.frame.objects[self.frame.rows[row]]
        return obj.get(name)

    def flags(self, row: int) -> list[RuleFailure]:
        """A row with a false flag: the field rule's failures, then each metric rule's."""
        return self.fields(row) + self.properties(row)

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

    def too_early(self, row: int) -> list[RuleFailure]:
        detail = before_earliest(self._value(row, "timestamp"))
        return [RuleFailure(TIMESTAMP_RULE, "timestamp_out_of_range", detail)]

    def in_future(self, row: int) -> list[RuleFailure]:
        instant = self.frame.instants[row]
        written = format_timestamp(instant) if instant is not None else shown(self._value(row, "timestamp"))
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
