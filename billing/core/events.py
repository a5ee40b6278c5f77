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
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.core.money import decimal_places, plain

FUTURE_TOLERANCE = timedelta(minutes=5)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_ID_LENGTH = 255
MAX_NUMBER_DIGITS = 30

PropertyValue = str | Decimal | bool | None


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


def loads(text: str | bytes) -> Any:
    """Parse JSON with every number as an exact `Decimal`; NaN and Infinity are refused."""
    return json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constants)


def quantity_problem(value: Decimal) -> str | None:
    """Why a number cannot be metered exactly, or None.

    At most 30 digits before and 30 after the decimal point: sums of millions of such numbers,
    times 12-decimal prices, stay well inside the exact arithmetic's 200 digits.
    """
    if not value.is_finite():
        return "is not a finite number"
    if value and value.adjusted() >= MAX_NUMBER_DIGITS:
        return f"is too large (at most {MAX_NUMBER_DIGITS} digits before the decimal point)"
    if decimal_places(value) > MAX_NUMBER_DIGITS:
        return f"has too many decimals (at most {MAX_NUMBER_DIGITS})"
    return None


def _numbers_problem(value: Any, where: str) -> str | None:
    if isinstance(value, Decimal):
        problem = quantity_problem(value)
        return f"{where} {problem}" if problem else None
    if isinstance(value, Mapping):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        problem = _numbers_problem(item, f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]")
        if problem:
            return problem
    return None


def dumps(value: Any) -> str:
    """Canonical JSON: sorted keys, no spaces, numbers in their plain decimal form."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise TypeError(f"refusing to write the float {value!r}: numbers must be Decimal")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in items) + "}"
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
    canonical = dumps([customer_id, event_type, format_timestamp(timestamp), properties])
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 string with an offset, or Unix seconds, as an aware UTC datetime."""
    if isinstance(value, Decimal) and not isinstance(value, bool):
        try:  # exact to the microsecond: no float on the way
            return EPOCH + timedelta(microseconds=int(value.scaleb(6)))
        except (OverflowError, ValueError, InvalidOperation):
            raise EventRejected("malformed_field", f"timestamp {plain(value)} is out of range") from None
    if not isinstance(value, str):
        raise EventRejected("malformed_field", f"timestamp must be an ISO 8601 string, got {value!r}")
    try:
        instant = datetime.fromisoformat(value.strip())
    except ValueError:
        raise EventRejected("malformed_field", f"timestamp {value!r} is not ISO 8601") from None
    if instant.tzinfo is None:
        raise EventRejected(
            "malformed_field", f"timestamp {value!r} has no UTC offset (write 'Z' or '+00:00')"
        )
    return instant.astimezone(UTC)


def _identifier(record: Mapping[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None or value == "":
        raise EventRejected("missing_field", f"{name} is missing")
    if not isinstance(value, str):
        raise EventRejected("malformed_field", f"{name} must be a string, got {dumps(value)}")
    if len(value) > MAX_ID_LENGTH or value != value.strip():
        raise EventRejected("malformed_field", f"{name} {value[:80]!r} is too long or padded")
    return value


def parse_event(record: object) -> UsageEvent:
    """Check one event's own shape; `EventRejected` names the reason and the field."""
    if not isinstance(record, Mapping):
        raise EventRejected("malformed_field", "an event must be a JSON object")
    transaction_id = _identifier(record, "transaction_id")
    customer_id = _identifier(record, "customer_id")
    event_type = _identifier(record, "event_type")
    if record.get("timestamp") in (None, ""):
        raise EventRejected("missing_field", "timestamp is missing")
    timestamp = parse_timestamp(record["timestamp"])
    properties = record.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise EventRejected("malformed_field", "properties must be a JSON object")
    unknown = set(record) - {"transaction_id", "customer_id", "event_type", "timestamp", "properties"}
    if unknown:
        raise EventRejected("malformed_field", f"unknown field {sorted(unknown)[0]!r}")
    problem = _numbers_problem(properties, "properties")
    if problem:
        raise EventRejected("invalid_property", problem)
    return UsageEvent(transaction_id, customer_id, event_type, timestamp, dict(properties))
