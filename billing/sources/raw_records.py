"""One usage row as a source hands it to ingestion, before anything is parsed or checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One event as received: the text of a file line, or an already-parsed JSON object.

    `data` holds JSON-model values (str, Decimal, bool, None, lists and dicts of them): a CSV or
    Parquet row, an HTTP event. A row that could not be read (not UTF-8, a NUL byte, over the
    size limit, the wrong number of columns) keeps what could be seen of it written with escapes
    in `text`, and why in `unreadable`: it is quarantined."""

    position: int  # line number in a JSONL or CSV file, row number in Parquet, index in a batch
    text: str | None = None
    data: Any = None
    unreadable: str | None = None
