"""A chunk of raw records as a typed table that the expectation suite validates.

Each record is parsed on its own (`billing.core.events.parse_event`) into typed columns; what cannot
be parsed is recorded as a problem in the row instead of stopping the chunk. The suite then
states the rules over these columns, so every row either passes or has a named reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from billing.core.catalog import Catalog, Metric
from billing.core.events import EventRejected, UsageEvent, loads, parse_event
from billing.core.metering import event_property_problem
from billing.sources.usage_files import RawRecord


@dataclass
class EventFrame:
    records: Sequence[RawRecord]
    events: list[UsageEvent | None]  # parsed event per row, None where parsing failed
    objects: list[Any]  # the JSON object per row, None where the text was not JSON
    table: pd.DataFrame


def _object(record: RawRecord) -> Any:
    if record.text is None:
        return record.data
    return loads(record.text)


def build_frame(records: Sequence[RawRecord], catalog: Catalog) -> EventFrame:
    by_type: dict[str, tuple[Metric, ...]] = {}
    events: list[UsageEvent | None] = []
    objects: list[Any] = []
    reasons: list[str | None] = []
    problems: list[str | None] = []
    property_problems: list[str | None] = []
    for record in records:
        try:
            obj = _object(record)
        except ValueError as error:
            objects.append(None)
            events.append(None)
            reasons.append("malformed_json")
            problems.append(f"not valid JSON: {error}")
            property_problems.append(None)
            continue
        objects.append(obj)
        try:
            event = parse_event(obj)
        except EventRejected as rejection:
            events.append(None)
            reasons.append(rejection.reason)
            problems.append(rejection.detail)
            property_problems.append(None)
            continue
        events.append(event)
        reasons.append(None)
        problems.append(None)
        metrics = by_type.get(event.event_type)
        if metrics is None:
            metrics = by_type[event.event_type] = catalog.metrics_for_event_type(event.event_type)
        property_problems.append(event_property_problem(metrics, event))
    table = pd.DataFrame(
        {
            "parse_reason": pd.Series(reasons, dtype=object),
            "parse_problem": pd.Series(problems, dtype=object),
            "timestamp": pd.to_datetime([e.timestamp if e is not None else None for e in events], utc=True),
            "property_problem": pd.Series(property_problems, dtype=object),
        }
    )
    return EventFrame(records, events, objects, table)
