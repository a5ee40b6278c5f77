"""Arrow columns as the JSON-model values an event holds: str, Decimal, bool, None, lists, dicts.

No float reaches an event: integers and decimals become the exact `Decimal`; a binary float
(Parquet FLOAT or DOUBLE) becomes the decimal of its shortest round-trip text, the number the
writer most likely meant (0.1, not 0.1000000000000000055511151231257827...), and NaN or infinity
stays not-a-number, which the event's checks refuse (`invalid_property`). Timestamps become ISO
8601 text (UTC with a Z when the type has a time zone), dates and times their ISO text. A struct
becomes an object without its null fields (a null field of a struct is an absent key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from billing.core.events import format_timestamp


class UndecodableCell(ValueError):
    """Binary data that is not UTF-8 text."""


def float_decimal(value: float) -> Decimal:
    return Decimal(repr(value))


def _float32_decimal(value: float) -> Decimal:
    import numpy as np

    return Decimal(str(np.float32(value)))


def json_model(value: Any) -> Any:
    """One value as `to_pylist` gives it (nested lists, dicts, tuples of a map) in the event's
    model."""
    if value is None or isinstance(value, str | bool | Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return float_decimal(value)
    if isinstance(value, datetime):
        return format_timestamp(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UndecodableCell(f"binary data that is not UTF-8 text ({error.reason})") from None
    if isinstance(value, dict):
        return {str(k): json_model(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            return {str(k): json_model(v) for k, v in value}  # a map's (key, value) pairs
        return [json_model(item) for item in value]
    return str(value)


def column_values(array: Any) -> list[Any]:
    """A column's values in the event's model; an undecodable binary cell is an
    `UndecodableCell` in its place."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        return column_values(array.dictionary_decode())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        return list(array.to_pylist())
    if pa.types.is_boolean(kind) or pa.types.is_null(kind) or pa.types.is_decimal(kind):
        return list(array.to_pylist())
    if pa.types.is_integer(kind):
        return _each(array.to_pylist(), Decimal)
    if pa.types.is_float32(kind) or pa.types.is_float16(kind):
        return _each(array.cast(pa.float64()).to_pylist(), _float32_decimal)
    if pa.types.is_floating(kind):
        return _each(array.to_pylist(), float_decimal)
    if pa.types.is_timestamp(kind):
        if kind.unit == "ns":  # Python's datetimes hold microseconds: finer digits are cut
            array = pc.cast(array, pa.timestamp("us", kind.tz), safe=False)
        return _each(array.to_pylist(), json_model)
    if pa.types.is_struct(kind):
        return _structs(array)
    values: list[Any] = []
    for value in array.to_pylist():
        try:
            values.append(json_model(value))
        except UndecodableCell as problem:
            values.append(problem)
    return values


def _structs(array: Any) -> list[Any]:
    """A struct column as objects, each field converted as a column of its own."""
    names = [array.type.field(i).name for i in range(array.type.num_fields)]
    fields = [column_values(child) for child in array.flatten()]
    present = array.is_valid().to_pylist()
    return [
        {name: values[i] for name, values in zip(names, fields, strict=True) if values[i] is not None}
        if present[i]
        else None
        for i in range(len(array))
    ]


def _each(values: list[Any], convert: Callable[[Any], Any]) -> list[Any]:
    return [None if v is None else convert(v) for v in values]
