"""Usage events: their shape, exact JSON, and the checks one event can fail on its own.

Numbers in properties are read from their JSON text as `Decimal` and written back in one
canonical form ("12.5", never "12.50" or "1.25E+1"), so the same value is the same text in every
database and a duplicate is recognised whatever its formatting.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from typing import Any

from billing.core.money import plain

FUTURE_TOLERANCE = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH = 255
MAX_NUMBER_DIGITS = 30
MAX_ROW_BYTES = 64 * 1024
MAX_DEPTH = 32  # objects and arrays inside an event, the event itself being the first

PropertyValue = str | Decimal | bool | None
_FINEST = Decimal(1).scaleb(-MAX_NUMBER_DIGITS)
_QUANTIZE = Context(prec=2 * MAX_NUMBER_DIGITS + 2, rounding=ROUND_DOWN, traps=[])


@dataclass(frozen=True, slots=True)
class UsageEvent:
    transaction_id: str
    customer_id: str
    event_type: str
    timestamp: datetime  # aware, UTC
    properties: Mapping[str, Any]

    @property
    def payload_hash(self) -> str:
        return payload_hash(self.customer_id, self.event_type, self.timestamp, self.properties)


class EventRejected(ValueError):
    """One event failed a rule; `reason` is the quarantine reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number (JSON has no NaN or Infinity)")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose names are unique: with a name twice, which value counts is a guess (the
    last, in Python's parser), and a row must not pick its customer by a guess."""
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise ValueError(f"the name {shown(name)} appears twice in one object")
            seen.add(name)
    return found


# one decoder for every row: building one per call costs as much as parsing a short row
# (the unique-names check costs about 1 µs a row, measured)
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constants, object_pairs_hook=_unique_object
)


_SCAN = _DECODER.scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__
_VALUE_STARTS = frozenset('{["-0123456789tfnNI')  # no leading whitespace: the scanner alone reads it


def loads(text: str | bytes) -> Any:
    """Parse JSON with every number as an exact `Decimal`; NaN and Infinity are refused, and so
    is an object holding one name twice.

    The usual row (a value from its first character to its last) is read by the decoder's
    scanner alone, skipping `decode`'s two whitespace matches (a tenth of a row's parse); any
    other text, and every error, goes through `decode` itself, so it says what it always did."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text[:1] in _VALUE_STARTS:
        try:
            value, end = _SCAN(text, 0)
        except StopIteration:
            pass  # not a value at all: `decode` raises its "Expecting value"
        else:
            if end == len(text):
                return value
    return _DECODER.decode(text)


def quantity_problem(value: Decimal) -> str | None:
    """Why a number cannot be metered exactly, or None.

    At most 30 digits before and 30 after the decimal point: sums of millions of such numbers,
    times 12-decimal prices, stay well inside the exact arithmetic's 200 digits.
    """
    if not value.is_finite():
        return "is not a finite number"
    if value and value.adjusted() >= MAX_NUMBER_DIGITS:
        return f"is too large (at most {MAX_NUMBER_DIGITS} digits before the decimal point)"
    # exact when at most 30 decimals: one C-level quantize, far cheaper than reading the digits
    if value.quantize(_FINEST, context=_QUANTIZE) != value:
        return f"has too many decimals (at most {MAX_NUMBER_DIGITS})"
    return None


def _text_problem(text: str) -> str | None:
    """Why a string cannot be stored as text in every database, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            return f"contains a lone surrogate ({storable(error.object[error.start : error.end])})"
    return None


def value_problem(value: Any, where: str, depth: int) -> tuple[str, str] | None:
    """The first (reason, detail) a value inside an event fails on: an unstorable string, nesting
    deeper than `MAX_DEPTH`, a number that cannot be metered exactly; None if it has none."""
    kind = type(value)
    if kind is str or isinstance(value, str):
        if value.isascii() and "\x00" not in value:  # the usual case, checked at C speed
            return None
        problem = _text_problem(value)
        return ("unreadable_row", f"{where} {problem}") if problem else None
    if kind is Decimal or isinstance(value, Decimal):
        problem = quantity_problem(value)
        return ("invalid_property", f"{where} {problem}") if problem else None
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    if depth > MAX_DEPTH:
        return ("unreadable_row", f"{where} is nested deeper than {MAX_DEPTH} levels")
    for key, item in items:
        if type(key) is str and (not key.isascii() or "\x00" in key):
            problem = _text_problem(key)
            if problem:
                return ("unreadable_row", f"a property name in {where} {problem}")
        kind = type(item)
        if item is None or kind is bool or (kind is str and item.isascii() and "\x00" not in item):
            continue
        if kind is Decimal and quantity_problem(item) is None:
            continue
        inner = f"{where}.{storable(key[:80])}" if type(key) is str else f"{where}[{key}]"
        found = value_problem(item, inner, depth + 1)
        if found:
            return found
    return None


def storable(text: str) -> str:
    """Text any database stores: NUL characters and lone surrogates written as escapes."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")


def shown(value: Any, limit: int = 80) -> str:
    """A value as a message shows it: canonical JSON, storable, cut at `limit` characters."""
    try:
        text = dumps(value)
    except ArithmeticError:  # a number too large to write plainly (1E+999999): its short form
        text = str(value) if isinstance(value, Decimal) else type(value).__name__
    except (TypeError, ValueError, RecursionError):
        text = type(value).__name__
    text = storable(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def oversized(text: str) -> int | None:
    """A row's size in UTF-8 bytes when it is over MAX_ROW_BYTES, else None (a text short
    enough that it cannot be, at 4 bytes a character at most, is not encoded)."""
    if len(text) <= MAX_ROW_BYTES // 4:
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return size if size > MAX_ROW_BYTES else None


def over_row_limit(size: int) -> str:
    """Why a row of `size` bytes is `unreadable_row`."""
    return f"the row is {size:,} bytes long, over the limit of {MAX_ROW_BYTES:,}"


def decode_row(line: bytes) -> str:
    """The text of one received row; `EventRejected("unreadable_row")` for a row over 64 KiB,
    one that is not UTF-8, or one holding a NUL byte."""
    if len(line) > MAX_ROW_BYTES:
        raise EventRejected("unreadable_row", over_row_limit(len(line)))
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EventRejected(
            "unreadable_row", f"the row is not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    if "\x00" in text:
        raise EventRejected("unreadable_row", f"the row holds a NUL byte (at character {text.index(chr(0))})")
    return text


def read_row(text: str) -> Any:
    """One row's JSON value (RFC 8259, numbers as `Decimal`); `EventRejected` with
    `malformed_json` for text that is not JSON, `unreadable_row` for a row past the bounds."""
    if oversized(text) is not None:
        raise EventRejected("unreadable_row", f"the row is over the limit of {MAX_ROW_BYTES:,} bytes")
    if "\x00" in text:
        raise EventRejected("unreadable_row", f"the row holds a NUL byte (at character {text.index(chr(0))})")
    try:
        return loads(text)
    except RecursionError:
        raise EventRejected("unreadable_row", f"the row is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as error:
        raise EventRejected("malformed_json", f"not valid JSON: {storable(str(error))}") from None


def _string(text: str) -> str:
    # the usual string needs no escape: json.dumps would write it between quotes as it is
    if text.isprintable() and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    return json.dumps(text, ensure_ascii=False)


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, numbers in their plain decimal form."""
    kind = type(value)  # the exact types first: one dict lookup, then the general checks
    if kind is str:
        return _string(value)
    if kind is Decimal:
        return plain(value)
    if kind is dict:
        return "{" + ",".join(f"{_string(str(k))}:{dumps(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError(f"refusing to write the float {value!r}: numbers must be Decimal")
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ",".join(f"{_string(str(k))}:{dumps(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def format_timestamp(instant: datetime) -> str:
    """ISO 8601 in UTC with a Z, microseconds only when present."""
    text = instant.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def payload_hash(
    customer_id: str, event_type: str, timestamp: datetime, properties: Mapping[str, Any]
) -> str:
    """What makes two events with one transaction_id the same event, or a conflict."""
    return _digest(customer_id, event_type, format_timestamp(timestamp), dumps(properties))


def _digest(customer_id: str, event_type: str, timestamp_text: str, properties_json: str) -> str:
    # dumps([customer_id, event_type, timestamp text, properties]), each part written once
    parts = (_string(customer_id), _string(event_type), _string(timestamp_text), properties_json)
    return hashlib.sha256(f"[{','.join(parts)}]".encode()).hexdigest()[:32]


def canonical_payload(event: UsageEvent) -> tuple[str, str, str]:
    """What storing an event writes, each part computed once: its properties as canonical
    JSON, its timestamp as `format_timestamp` writes it, and its payload hash."""
    properties_json = dumps(event.properties)
    timestamp_text = format_timestamp(event.timestamp)
    digest = _digest(event.customer_id, event.event_type, timestamp_text, properties_json)
    return properties_json, timestamp_text, digest


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 string with an offset, or Unix seconds, as an aware UTC datetime from
    2000-01-01 on; `EventRejected` names what is wrong."""
    instant = read_timestamp(value)
    if instant < EARLIEST_TIMESTAMP:
        raise EventRejected("timestamp_out_of_range", before_earliest(value))
    return instant


def before_earliest(value: object) -> str:
    return f"timestamp {shown(value)} is before {format_timestamp(EARLIEST_TIMESTAMP)}"


def read_timestamp(value: object) -> datetime:
    """An ISO 8601 string with an offset, or Unix seconds, as an aware UTC datetime, whatever
    its year (the window of accepted instants is a validation rule); `EventRejected` for text
    that is not such a timestamp or an instant no UTC datetime holds."""
    if isinstance(value, Decimal):
        try:  # exact to the microsecond: no float on the way
            instant = EPOCH + timedelta(microseconds=int(value.scaleb(6)))
        except (OverflowError, ValueError, InvalidOperation):
            raise EventRejected(
                "timestamp_out_of_range", f"timestamp {shown(value)} is out of the range of dates"
            ) from None
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise EventRejected("malformed_field", f"timestamp {shown(value)} is not ISO 8601") from None
        if parsed.tzinfo is None:
            raise EventRejected(
                "malformed_field", f"timestamp {shown(value)} has no UTC offset (write 'Z' or '+00:00')"
            )
        try:
            instant = parsed.astimezone(UTC)
        except OverflowError:
            raise EventRejected(
                "timestamp_out_of_range", f"timestamp {shown(value)} is out of the range of dates in UTC"
            ) from None
    else:
        raise EventRejected("malformed_field", f"timestamp must be an ISO 8601 string, got {shown(value)}")
    return instant


def _identifier(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    usual = isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and value.isascii()
    if usual and isinstance(value, str) and "\x00" not in value and value == value.strip():
        return value  # the usual case, in a few C calls
    if value is None or value == "":
        raise EventRejected("missing_field", f"{name} is missing")
    if not isinstance(value, str):
        raise EventRejected("malformed_field", f"{name} must be a string, got {shown(value)}")
    problem = identifier_problem(name, value)
    if problem:
        raise EventRejected(*problem)
    return value


def identifier_problem(name: str, value: str) -> tuple[str, str] | None:
    """The (reason, detail) an id string fails on as text (unstorable, over 255 characters,
    padded with spaces), or None."""
    problem = _text_problem(value)
    if problem:
        return "unreadable_row", f"{name} {shown(value)} {problem}"
    if len(value) > MAX_ID_LENGTH:
        return "unreadable_row", f"{name} {shown(value, 40)} is {len(value)} characters, over {MAX_ID_LENGTH}"
    if value != value.strip():
        return "malformed_field", f"{name} {shown(value)} has leading or trailing spaces"
    return None


EVENT_FIELDS = frozenset({"transaction_id", "customer_id", "event_type", "timestamp", "properties"})


def parse_event(record: object) -> UsageEvent:
    """Check one event's own shape and bounds; `EventRejected` names the reason and the field.

    Every way one event can be bad ends here, whatever its source (a file line, an HTTP body):
    a missing or malformed field, a timestamp out of range, a string no database can store,
    nesting deeper than `MAX_DEPTH`, a number that cannot be metered exactly."""
    if not isinstance(record, Mapping):
        raise EventRejected("malformed_field", "an event must be a JSON object")
    transaction_id = _identifier(record, "transaction_id")
    customer_id = _identifier(record, "customer_id")
    event_type = _identifier(record, "event_type")
    if record.get("timestamp") in (None, ""):
        raise EventRejected("missing_field", "timestamp is missing")
    timestamp = parse_timestamp(record["timestamp"])
    properties = record.get("properties")
    if properties is None:
        properties = {}
    elif not isinstance(properties, Mapping):
        raise EventRejected("malformed_field", "properties must be a JSON object")
    unknown = None if record.keys() <= EVENT_FIELDS else set(record) - EVENT_FIELDS
    if unknown:
        raise EventRejected("malformed_field", f"unknown field {sorted(map(str, unknown))[0][:80]!r}")
    problem = value_problem(properties, "properties", 2)
    if problem:
        raise EventRejected(*problem)
    return UsageEvent(transaction_id, customer_id, event_type, timestamp, dict(properties))
