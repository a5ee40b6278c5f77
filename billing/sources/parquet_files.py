"""Parquet files: the JSONL fields as columns, streamed batch by batch (`iter_batches`).

Properties are one `properties` column (JSON text, read with exact numbers like a JSONL line;
or a struct or map) or `properties.NAME` columns; a null is an absent field or property. The
`timestamp` column is ISO 8601 text with its offset, a timestamp type with a time zone, or Unix
seconds; a timestamp type without a time zone fails the file (its instant is unknown).
Positions are row numbers from 1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from billing.core.errors import SourceError
from billing.core.events import MAX_ROW_BYTES, dumps, storable
from billing.sources.arrow_values import UndecodableCell, column_values
from billing.sources.column_layout import ColumnLayout, column_layout
from billing.sources.locations import open_stored
from billing.sources.progress import ReadPosition
from billing.sources.raw_records import RawRecord

BATCH_ROWS = 65_536


def _layout(url: str, schema: Any) -> tuple[ColumnLayout, bool]:
    """The columns' roles, and whether the `properties` column is JSON text."""
    import pyarrow as pa

    layout = column_layout(url, list(schema.names), properties_column=True)
    stamp = schema.field("timestamp").type
    if pa.types.is_timestamp(stamp) and stamp.tz is None:
        raise SourceError(
            f"{url}: the timestamp column is a {stamp} without a time zone: write it with one "
            "(UTC) or as ISO 8601 text with its offset"
        )
    if layout.properties_column is None:
        return layout, False
    kind = schema.field("properties").type
    text = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    if not (text or pa.types.is_struct(kind) or pa.types.is_map(kind) or pa.types.is_null(kind)):
        raise SourceError(f"{url}: the properties column is a {kind}: expected JSON text, a struct or a map")
    return layout, text


def _text_bytes(array: Any, rows: int) -> Any:
    """Bytes of text per row in a column (structs through their fields; other types count 0)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        return _text_bytes(array.dictionary_decode(), rows)
    if pa.types.is_struct(kind):
        total = np.zeros(rows, dtype=np.int64)
        for child in array.flatten():
            total += _text_bytes(child, rows)
        return total
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or (pa.types.is_large_binary(kind))
    ):
        return pc.fill_null(pc.binary_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return np.zeros(rows, dtype=np.int64)


def _with_properties(record: dict[str, Any], text: str) -> str:
    """The row as one JSON text, its properties column's text in place, so it is read exactly
    like a JSONL line (and malformed JSON is `malformed_json`). `record` holds every top-level
    field, null ones too, so that text after the properties' object naming one of them makes a
    name appear twice, never a field of the row."""
    head = dumps(record)[:-1]
    return f'{head}{"," if record else ""}"properties":{text}}}'


def _records(batch: Any, layout: ColumnLayout, text_properties: bool, first: int) -> list[RawRecord]:
    import numpy as np

    rows = batch.num_rows

    sizes = np.zeros(rows, dtype=np.int64)
    for column in batch.columns:
        sizes += _text_bytes(column, rows)
    top = [(field, column_values(batch.column(index))) for index, field in layout.top]
    named = [(name, column_values(batch.column(index))) for index, name in layout.properties]
    whole = None
    if layout.properties_column is not None:
        whole = column_values(batch.column(layout.properties_column))
    records: list[RawRecord] = []
    for i in range(rows):
        position = first + i
        record = {field: values[i] for field, values in top if values[i] is not None}
        properties = {name: values[i] for name, values in named if values[i] is not None}
        extra = None if whole is None else whole[i]
        cells = [*record.values(), *properties.values(), extra]
        bad = next((cell for cell in cells if isinstance(cell, UndecodableCell)), None)
        if bad is not None or sizes[i] > MAX_ROW_BYTES:
            detail = str(bad) if bad else f"the row is {int(sizes[i]):,} bytes, over {MAX_ROW_BYTES:,}"
            records.append(RawRecord(position, _written(record, properties, extra), unreadable=detail))
        elif text_properties and extra not in (None, ""):
            # every top-level field written, a null one as null: the text cannot supply a
            # field the row lacks (its name would then appear twice)
            fields = {field: values[i] for field, values in top}
            records.append(RawRecord(position, _with_properties(fields, extra)))
        else:
            if properties:
                record["properties"] = properties
            elif isinstance(extra, dict):
                record["properties"] = extra
            records.append(RawRecord(position, data=record))
    return records


def _written(record: dict[str, Any], properties: dict[str, Any], extra: Any) -> str:
    """What quarantine keeps of an unreadable row: its cells, a bad one as its problem."""

    def shown(value: Any) -> Any:
        return str(value) if isinstance(value, UndecodableCell) else value

    row = {key: shown(value) for key, value in record.items()}
    if properties or extra is not None:
        row["properties"] = {k: shown(v) for k, v in properties.items()} or shown(extra)
    try:
        return storable(dumps(row))
    except (TypeError, ValueError):
        return storable(repr(row))


def read_parquet(
    url: str, chunk_size: int, on_position: Callable[[ReadPosition], None]
) -> Iterator[list[RawRecord]]:
    import pyarrow.parquet as pq

    with open_stored(url, decompress=False) as (handle, _, _):
        parquet = pq.ParquetFile(handle)
        layout, text_properties = _layout(url, parquet.schema_arrow)
        total = parquet.metadata.num_rows
        done = 0
        chunk: list[RawRecord] = []
        for batch in parquet.iter_batches(batch_size=max(1, min(chunk_size, BATCH_ROWS))):
            chunk.extend(_records(batch, layout, text_properties, done + 1))
            done += batch.num_rows
            while len(chunk) >= chunk_size:
                yield chunk[:chunk_size]
                on_position(ReadPosition(done, total, "rows"))
                chunk = chunk[chunk_size:]
        if chunk:
            yield chunk
        on_position(ReadPosition(done, total, "rows"))


def check_parquet(url: str) -> None:
    """The footer is readable and the schema has the required columns."""
    import pyarrow.parquet as pq

    with open_stored(url, decompress=False) as (handle, _, _):
        _layout(url, pq.ParquetFile(handle).schema_arrow)
