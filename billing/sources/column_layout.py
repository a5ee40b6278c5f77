"""Which column of a CSV header or Parquet schema holds which part of an event.

The top-level columns are the JSONL fields (`transaction_id`, `customer_id`, `event_type`,
`timestamp`); properties are `properties.NAME` columns (the name after the prefix taken whole,
dots included) or, in Parquet, one `properties` column. A header that lacks a required column,
repeats one or has one of no known meaning fails the file with one line naming it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from billing.core.errors import SourceError

REQUIRED = ("transaction_id", "customer_id", "event_type", "timestamp")
PROPERTY_PREFIX = "properties."


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    top: tuple[tuple[int, str], ...]  # (column index, event field)
    properties: tuple[tuple[int, str], ...]  # (column index, property name)
    properties_column: int | None  # one column holding all the properties (Parquet only)


def column_layout(url: str, names: Sequence[str], properties_column: bool) -> ColumnLayout:
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        raise SourceError(f"{url}: the column {repeated[0]!r} appears more than once")
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise SourceError(
            f"{url}: no {', '.join(repr(m) for m in missing)} column: the columns must include "
            f"{', '.join(REQUIRED)}, with properties as properties.NAME columns "
            f"(found: {', '.join(repr(n) for n in names[:12])})"
        )
    top, properties = [], []
    whole: int | None = None
    for index, name in enumerate(names):
        if name in REQUIRED:
            top.append((index, name))
        elif name.startswith(PROPERTY_PREFIX) and len(name) > len(PROPERTY_PREFIX):
            properties.append((index, name.removeprefix(PROPERTY_PREFIX)))
        elif name == "properties" and properties_column:
            whole = index
        else:
            hint = f" (a property is written as a 'properties.{name}' column)" if name else ""
            raise SourceError(f"{url}: unknown column {name!r}{hint}")
    if whole is not None and properties:
        raise SourceError(
            f"{url}: both a 'properties' column and properties.NAME columns: use one or the other"
        )
    return ColumnLayout(tuple(top), tuple(properties), whole)
