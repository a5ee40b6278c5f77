"""A chunk of raw records as a typed table that the expectation suite validates.

Each record is read and parsed on its own (`billing.core.events.read_row`, `parse_event`) and
checked against the catalog (`billing.core.admission.admit_event`) into typed columns; what
fails is recorded as a reason and a problem in the row instead of stopping the chunk. The suite
then states the rules over these columns, so every row either passes or has a named reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from billing.core.admission import admit_event
from billing.core.catalog import Catalog
from billing.core.events import EventRejected, UsageEvent, parse_event, read_row
from billing.sources.usage_files import RawRecord

# pandas holds instants from 1677 to 2262: later ones (all of them far in the future) are
# written as this ceiling, which the suite's future-timestamp rule refuses like the real value
TABLE_CEILING = datetime(2200, 1, 1, tzinfo=UTC)


@dataclass
class EventFrame:
    records: Sequence[RawRecord]
    events: list[UsageEvent | None]  # the event per row as it would be stored, None where it failed
    objects: list[Any]  # the JSON value per row, None where the row could not be read
    table: pd.DataFrame


def _object(record: RawRecord) -> Any:
    if record.unreadable is not None:
        raise EventRejected("unreadable_row", record.unreadable)
    if record.text is None:
        return record.data
    return read_row(record.text)


def build_frame(records: Sequence[RawRecord], catalog: Catalog) -> EventFrame:
    events: list[UsageEvent | None] = []
    objects: list[Any] = []
    reasons: list[str | None] = []
    problems: list[str | None] = []
    for record in records:
        obj = event = None
        try:
            obj = _object(record)
            event = admit_event(catalog, parse_event(obj))
        except EventRejected as rejection:
            reasons.append(rejection.reason)
            problems.append(rejection.detail)
        else:
            reasons.append(None)
            problems.append(None)
        objects.append(obj)
        events.append(event)
    instants = [None if e is None else min(e.timestamp, TABLE_CEILING) for e in events]
    table = pd.DataFrame(
        {
            "parse_reason": pd.Series(reasons, dtype=object),
            "parse_problem": pd.Series(problems, dtype=object),
            "timestamp": pd.to_datetime(instants, utc=True),
        }
    )
    return EventFrame(records, events, objects, table)
