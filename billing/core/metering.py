"""Aggregations over usage events: the one definition every SQL version is tested against.

An event a metric counts but that lacks the metric's field (stored before the metric asked
for it; ingestion quarantines such events since) adds to the metric's event count, not to its
sum, maximum, distinct values or latest value.

Each aggregation is a small accumulator with `step` (one event), `merge` (another accumulator
over other events) and `result`. Rating over stored events uses SQL that is tested equal to
these; previews and quotes use them directly; SQLite registers them as SQL aggregates. Sums are
exact: `EXACT` raises rather than round.

`MetricState` is an accumulator's aggregate in a form the database can report for the events
it holds; `Meter.resume` continues from such states, so a preview merges a few added events into
a period's stored usage without loading it (`state`/`resume` on each accumulator, one rule each).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from billing.core.catalog import Metric
from billing.core.events import UsageEvent, dumps, shown
from billing.core.money import EXACT, ZERO, plain
from billing.core.pricing.base import MeteredUsage

_MISSING = object()
NUMERIC_AGGREGATIONS = {"sum", "max", "latest"}


@dataclass(frozen=True, slots=True)
class MetricState:
    """One metric's aggregate over a set of events, complete enough to merge more events in.

    `events`: the events the metric applies to. `value`: the total (`sum`), the greatest value
    or None (`max`), the latest value or None (`latest`); None for `count` and `unique_count`.
    `distinct`: how many distinct values (`unique_count`). `latest`: the (timestamp,
    transaction_id) of the event `value` came from (`latest`).
    """

    events: int
    value: Decimal | None = None
    distinct: int = 0
    latest: tuple[datetime, str] | None = None


class Accumulator(Protocol):
    def step(self, value: Any, timestamp: datetime, transaction_id: str) -> None: ...
    def merge(self, other: Any) -> None: ...
    def result(self) -> Decimal: ...
    def state(self, events: int) -> MetricState: ...
    def resume(self, state: MetricState, known: Collection[str]) -> None: ...


class CountAccumulator:
    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def step(self, value: Any, timestamp: datetime, transaction_id: str) -> None:
        self.count += 1

    def merge(self, other: CountAccumulator) -> None:
        self.count += other.count

    def result(self) -> Decimal:
        return Decimal(self.count)

    def state(self, events: int) -> MetricState:
        return MetricState(events)

    def resume(self, state: MetricState, known: Collection[str]) -> None:
        self.count = state.events


class SumAccumulator:
    __slots__ = ("total",)

    def __init__(self) -> None:
        self.total = ZERO

    def step(self, value: Decimal, timestamp: datetime, transaction_id: str) -> None:
        self.total = EXACT.add(self.total, value)

    def merge(self, other: SumAccumulator) -> None:
        self.total = EXACT.add(self.total, other.total)

    def result(self) -> Decimal:
        return self.total

    def state(self, events: int) -> MetricState:
        return MetricState(events, self.total)

    def resume(self, state: MetricState, known: Collection[str]) -> None:
        self.total = ZERO if state.value is None else state.value


class MaxAccumulator:
    __slots__ = ("best",)

    def __init__(self) -> None:
        self.best: Decimal | None = None

    def step(self, value: Decimal, timestamp: datetime, transaction_id: str) -> None:
        if self.best is None or value > self.best:
            self.best = value

    def merge(self, other: MaxAccumulator) -> None:
        if other.best is not None:
            self.step(other.best, datetime.min, "")

    def result(self) -> Decimal:
        return ZERO if self.best is None else self.best

    def state(self, events: int) -> MetricState:
        return MetricState(events, self.best)

    def resume(self, state: MetricState, known: Collection[str]) -> None:
        self.best = state.value


class UniqueCountAccumulator:
    """Distinct values, compared in their canonical JSON form ("1" and 1 differ; 1.0 and 1 do not).

    `elsewhere` counts distinct values held somewhere else (stored events that were not loaded):
    resumed from a `MetricState`, `seen` starts with those of them that the caller is about to
    meet again (`known`), so no value is counted twice.
    """

    __slots__ = ("elsewhere", "seen")

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.elsewhere = 0

    def step(self, value: Any, timestamp: datetime, transaction_id: str) -> None:
        self.seen.add(dumps(value))

    def merge(self, other: UniqueCountAccumulator) -> None:
        self.seen |= other.seen
        self.elsewhere += other.elsewhere

    def result(self) -> Decimal:
        return Decimal(len(self.seen) + self.elsewhere)

    def state(self, events: int) -> MetricState:
        return MetricState(events, distinct=len(self.seen) + self.elsewhere)

    def resume(self, state: MetricState, known: Collection[str]) -> None:
        if len(known) > state.distinct:
            raise ValueError(f"{len(known)} known values among {state.distinct} distinct ones")
        self.seen = set(known)
        self.elsewhere = state.distinct - len(self.seen)


class LatestAccumulator:
    """The value of the event with the greatest timestamp; ties go to the greatest transaction_id."""

    __slots__ = ("key", "value")

    def __init__(self) -> None:
        self.key: tuple[datetime, str] | None = None
        self.value = ZERO

    def step(self, value: Decimal, timestamp: datetime, transaction_id: str) -> None:
        key = (timestamp, transaction_id)
        if self.key is None or key > self.key:
            self.key, self.value = key, value

    def merge(self, other: LatestAccumulator) -> None:
        if other.key is not None:
            self.step(other.value, *other.key)

    def result(self) -> Decimal:
        return self.value

    def state(self, events: int) -> MetricState:
        return MetricState(events, None if self.key is None else self.value, latest=self.key)

    def resume(self, state: MetricState, known: Collection[str]) -> None:
        if (state.latest is None) != (state.value is None):
            raise ValueError("a latest value needs its (timestamp, transaction_id) and only then")
        self.key = state.latest
        self.value = ZERO if state.value is None else state.value


ACCUMULATORS: dict[str, type[Any]] = {
    "count": CountAccumulator,
    "sum": SumAccumulator,
    "max": MaxAccumulator,
    "unique_count": UniqueCountAccumulator,
    "latest": LatestAccumulator,
}


def same_value(actual: Any, expected: str | bool | Decimal) -> bool:
    """Filter equality that never takes True for 1 or "1" for 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    if isinstance(expected, Decimal):
        return isinstance(actual, Decimal) and actual == expected
    return isinstance(actual, str) and actual == expected


def metric_applies(metric: Metric, event_type: str, properties: Mapping[str, Any]) -> bool:
    """Whether an event counts towards a metric: its type, then each filter."""
    if event_type != metric.event_type:
        return False
    return all(same_value(properties.get(k, _MISSING), v) for k, v in metric.filters.items())


def property_problem(
    metric: Metric, properties: Mapping[str, Any], bound: Decimal | None = None
) -> str | None:
    """Why an event a metric applies to cannot be aggregated by it, or None: a missing field, a
    value of the wrong type, a negative one where the metric does not `allow_negative`, or one
    larger than `bound` (what an invoice line can bill, `billing.core.quantity_bounds`)."""
    if metric.field is None:
        return None
    value = properties.get(metric.field, _MISSING)
    if value is _MISSING or value is None:
        return f"property {metric.field!r} is missing (metric {metric.code!r} needs it)"
    if metric.aggregation in NUMERIC_AGGREGATIONS:
        if not isinstance(value, Decimal) or isinstance(value, bool):
            return (
                f"property {metric.field!r} must be a number or a decimal string for metric "
                f"{metric.code!r}, got {shown(value)}"
            )
        if not value.is_finite():  # NaN or Infinity (a Parquet float column can hold them)
            return f"property {metric.field!r} is not a finite number ({value}) for metric {metric.code!r}"
        if value < 0 and not metric.allow_negative:
            return (
                f"property {metric.field!r} is negative ({plain(value)}) and metric {metric.code!r} "
                "does not allow_negative"
            )
        if bound is not None and value.copy_abs() > bound:
            return (
                f"property {metric.field!r} {shown(value)} is more than an invoice line can bill "
                f"under the charges on metric {metric.code!r} (at most {plain(bound)})"
            )
    elif not isinstance(value, str | Decimal) or isinstance(value, bool):
        return (
            f"property {metric.field!r} must be a string or a number for metric {metric.code!r}, "
            f"got {shown(value)}"
        )
    return None


def event_property_problem(
    metrics: Iterable[Metric], event: UsageEvent, bounds: Mapping[str, Decimal] | None = None
) -> str | None:
    """The first problem any metric that counts this event has with its properties, or None."""
    for metric in metrics:
        if metric_applies(metric, event.event_type, event.properties):
            bound = bounds.get(metric.code) if bounds else None
            problem = property_problem(metric, event.properties, bound)
            if problem:
                return problem
    return None


class Meter:
    """Running aggregates of a set of metrics over events fed in any order, in any batches.

    `counted` names the metrics whose number of events is reported (`Catalog.
    event_counted_metrics`); others report 0 events, as the SQL metering does. None: all.
    """

    def __init__(self, metrics: Iterable[Metric], counted: Collection[str] | None = None) -> None:
        self.metrics = tuple(metrics)
        self.counted = counted
        self.accumulators = {m.code: ACCUMULATORS[m.aggregation]() for m in self.metrics}
        self.counts = dict.fromkeys(self.accumulators, 0)
        self._by_type: dict[str, list[Metric]] = {}
        for metric in self.metrics:
            self._by_type.setdefault(metric.event_type, []).append(metric)

    def add(self, events: Iterable[UsageEvent]) -> Meter:
        for event in events:
            for metric in self._by_type.get(event.event_type, ()):
                if metric_applies(metric, event.event_type, event.properties):
                    self.counts[metric.code] += 1
                    value = event.properties.get(metric.field) if metric.field else None
                    if value is None and metric.field:
                        continue  # no value to aggregate (stored before the metric asked for it)
                    self.accumulators[metric.code].step(value, event.timestamp, event.transaction_id)
        return self

    def merge(self, other: Meter) -> Meter:
        for code, accumulator in other.accumulators.items():
            self.accumulators[code].merge(accumulator)
            self.counts[code] += other.counts[code]
        return self

    def states(self) -> dict[str, MetricState]:
        """Each metric's aggregate as `MetricState`: what the database reports of stored events."""
        return {code: acc.state(self.counts[code]) for code, acc in self.accumulators.items()}

    @classmethod
    def resume(
        cls,
        metrics: Iterable[Metric],
        states: Mapping[str, MetricState],
        counted: Collection[str] | None = None,
        known: Mapping[str, Collection[str]] | None = None,
    ) -> Meter:
        """A meter that goes on from events aggregated elsewhere (`states`, by metric code), to
        merge other events in exactly. `known`: per `unique_count` metric, the canonical JSON
        (`dumps`) of the values about to be added that those events already hold, so that
        `Meter.resume(m, Meter(m).add(a).states(), known=...).merge(Meter(m).add(b))` measures
        `a + b` (with no event in both)."""
        meter = cls(metrics, counted)
        for code, accumulator in meter.accumulators.items():
            state = states.get(code, MetricState(0))
            accumulator.resume(state, (known or {}).get(code, ()))
            meter.counts[code] = state.events
        return meter

    def usage(self) -> dict[str, MeteredUsage]:
        counted = self.counted
        return {
            code: MeteredUsage(acc.result(), self.counts[code] if counted is None or code in counted else 0)
            for code, acc in self.accumulators.items()
        }


def measure(
    metrics: Iterable[Metric], events: Iterable[UsageEvent], counted: Collection[str] | None = None
) -> dict[str, MeteredUsage]:
    """Aggregate events for each metric: the definition of every aggregation."""
    return Meter(metrics, counted).add(events).usage()
